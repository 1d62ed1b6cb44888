// Interop helper for bewahr: RFC 4998 evidence records / RFC 3161 time-stamps
// produced and checked with Bouncy Castle 1.72 (org.bouncycastle.tsp.ers).
//
// Self-contained, default package, depends only on bcprov, bcpkix and bcutil.
//
// Compile:
//   javac -cp /usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar \
//         -d /tmp/bcers-classes tests/java/BcErs.java
// Run:
//   java -cp /tmp/bcers-classes:/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar \
//        BcErs <subcommand> ...
//
// Exit codes: 0 = success / valid, 1 = invalid / failed, 2 = usage or unexpected error.

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.FileReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.RSAPublicKeySpec;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.TimeZone;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.tsp.ArchiveTimeStamp;
import org.bouncycastle.asn1.tsp.ArchiveTimeStampChain;
import org.bouncycastle.asn1.tsp.ArchiveTimeStampSequence;
import org.bouncycastle.asn1.tsp.EvidenceRecord;
import org.bouncycastle.asn1.tsp.PartialHashtree;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.cms.SignerInfoGenerator;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.DigestCalculator;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.tsp.TSPAlgorithms;
import org.bouncycastle.tsp.TimeStampRequest;
import org.bouncycastle.tsp.TimeStampRequestGenerator;
import org.bouncycastle.tsp.TimeStampResponse;
import org.bouncycastle.tsp.TimeStampResponseGenerator;
import org.bouncycastle.tsp.TimeStampToken;
import org.bouncycastle.tsp.TimeStampTokenGenerator;
import org.bouncycastle.tsp.TimeStampTokenInfo;
import org.bouncycastle.tsp.ers.ERSArchiveTimeStamp;
import org.bouncycastle.tsp.ers.ERSArchiveTimeStampGenerator;
import org.bouncycastle.tsp.ers.ERSByteData;
import org.bouncycastle.tsp.ers.ERSData;
import org.bouncycastle.tsp.ers.ERSDataGroup;
import org.bouncycastle.tsp.ers.ERSEvidenceRecord;
import org.bouncycastle.tsp.ers.ERSEvidenceRecordGenerator;
import org.bouncycastle.tsp.ers.ERSFileData;
import org.bouncycastle.util.CollectionStore;
import org.bouncycastle.util.encoders.Hex;

public class BcErs
{
    static final BouncyCastleProvider BC = new BouncyCastleProvider();
    static final SecureRandom RANDOM = new SecureRandom();

    /** SHA-256 / SHA-512 identifiers with absent parameters (RFC 5754). */
    static final AlgorithmIdentifier SHA256 = new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha256);
    static final AlgorithmIdentifier SHA512 = new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha512);

    /** Arbitrary test TSA policy OID. */
    static final ASN1ObjectIdentifier TSA_POLICY = new ASN1ObjectIdentifier("1.3.6.1.4.1.55555.4998.1");

    static final int EXIT_OK = 0;
    static final int EXIT_INVALID = 1;
    static final int EXIT_ERROR = 2;

    static final PrintStream OUT = System.out;

    // ------------------------------------------------------------------ main

    public static void main(String[] args)
    {
        int rc;
        try
        {
            rc = run(args);
        }
        catch (UsageException e)
        {
            System.err.println("usage error: " + e.getMessage());
            usage();
            rc = EXIT_ERROR;
        }
        catch (FailedException e)
        {
            OUT.println("FAILED: " + describe(e));
            rc = EXIT_INVALID;
        }
        catch (Throwable t)
        {
            OUT.println("ERROR: " + describe(t));
            if (System.getenv("BCERS_DEBUG") != null)
            {
                t.printStackTrace(System.err);
            }
            rc = EXIT_ERROR;
        }
        OUT.flush();
        System.exit(rc);
    }

    static int run(String[] args)
        throws Exception
    {
        if (args.length == 0)
        {
            throw new UsageException("no subcommand");
        }
        String cmd = args[0];
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (cmd)
        {
        case "validate":
            return cmdValidate(rest);
        case "generate":
            return cmdGenerate(rest);
        case "renew-ts":
            return cmdRenewTs(rest);
        case "renew-hash":
            return cmdRenewHash(rest);
        case "bench-gen":
            return cmdBenchGen(rest);
        case "dump":
            return cmdDump(rest);
        case "-h":
        case "--help":
        case "help":
            usage();
            return EXIT_OK;
        default:
            throw new UsageException("unknown subcommand '" + cmd + "'");
        }
    }

    static void usage()
    {
        System.err.println(String.join("\n",
            "usage: BcErs <subcommand> ...",
            "  validate [--cert <pem>] <er.der> <data-file> [<data-file2> ...]",
            "        several data files = one data-object group (ERSDataGroup)",
            "        --cert: PEM cert(s) used when a token does not embed its signer certificate",
            "  generate <outdir> <N>",
            "        writes data-<i>.bin, data-<i>.ers (DER), tsa.pem, tsa.key; then self-validates",
            "  renew-ts <in.er> <out.er> <tsa-dir>",
            "        time-stamp renewal; TSA key/cert from <tsa-dir>/tsa.key + tsa.pem (created if missing)",
            "  renew-hash <in.er> <out.er> <tsa-dir> <data-file> [<data-file2> ...]",
            "        hash-tree renewal with SHA-512 (new ArchiveTimeStampChain)",
            "  bench-gen <N> [<N2> ...]",
            "        time BC's ERSArchiveTimeStampGenerator for N random 64-byte objects",
            "  dump <er.der>",
            "        print the structure of an evidence record (chains, ATS, reduced hash trees, TSTInfo)",
            "exit codes: 0 = success/valid, 1 = invalid/failed, 2 = usage or unexpected error"));
    }

    static final class UsageException
        extends Exception
    {
        UsageException(String msg)
        {
            super(msg);
        }
    }

    static final class FailedException
        extends Exception
    {
        FailedException(String msg, Throwable cause)
        {
            super(msg, cause);
        }
    }

    // ------------------------------------------------------------------ validate

    static int cmdValidate(String[] args)
        throws Exception
    {
        List<X509CertificateHolder> extraCerts = new ArrayList<X509CertificateHolder>();
        List<String> pos = new ArrayList<String>();
        for (int i = 0; i < args.length; i++)
        {
            if (args[i].equals("--cert"))
            {
                if (i + 1 >= args.length)
                {
                    throw new UsageException("--cert needs a file");
                }
                extraCerts.addAll(readCerts(new File(args[++i])));
            }
            else
            {
                pos.add(args[i]);
            }
        }
        if (pos.size() < 2)
        {
            throw new UsageException("validate needs <er.der> <data-file> [...]");
        }
        byte[] er = readFile(new File(pos.get(0)));
        List<File> files = new ArrayList<File>();
        for (int i = 1; i < pos.size(); i++)
        {
            File f = new File(pos.get(i));
            if (!f.isFile())
            {
                throw new IOException("data file not found: " + f);
            }
            files.add(f);
        }
        Validation v = validateRecord(er, dataFor(files), extraCerts);
        OUT.println(v.line());
        return v.valid ? EXIT_OK : EXIT_INVALID;
    }

    /** One file = ERSFileData, several files = ERSDataGroup of ERSFileData. */
    static ERSData dataFor(List<File> files)
        throws IOException
    {
        if (files.size() == 1)
        {
            return new ERSFileData(files.get(0));
        }
        List<ERSData> l = new ArrayList<ERSData>();
        for (File f : files)
        {
            l.add(new ERSFileData(f));
        }
        return new ERSDataGroup(l);
    }

    static final class Validation
    {
        boolean valid = true;
        final List<String> failures = new ArrayList<String>();
        final List<String> checks = new ArrayList<String>();

        Validation fail(String check, Throwable t)
        {
            return fail(check, describe(t));
        }

        Validation fail(String check, String why)
        {
            valid = false;
            failures.add(check + ": " + why);
            return this;
        }

        String line()
        {
            String ran = "checks=" + (checks.isEmpty() ? "none" : String.join(",", checks));
            if (valid)
            {
                return "VALID " + ran;
            }
            return "INVALID: " + String.join("; ", failures) + " (passed " + ran + ")";
        }
    }

    /**
     * Checks, in order (after a successful parse all checks run; every failure is reported):
     *  parse            EvidenceRecord.getInstance + new ERSEvidenceRecord(..) - BC's constructor also
     *                   checks that every ATS after the first in each chain covers its predecessor
     *                   (time-stamp renewal links) and that digest algorithms are constant per chain.
     *  present          ERSEvidenceRecord.validatePresent(data, now): first ATS of the LAST chain,
     *                   data hash (combined with the hash of all previous chains) -> reduced hash tree
     *                   -> time-stamp imprint.
     *  earlier-chains   for each earlier chain i, validatePresent on a record truncated to chains 0..i
     *                   (BC itself only checks the last chain), at the genTime of chain i+1.
     *  ts-sig           TimeStampToken.validate(verifier) for EVERY ATS (signature, ESSCertID(v2)
     *                   binding, cert validity at genTime, critical EKU timeStamping), using the
     *                   certificate embedded in the token (or a matching --cert).
     *  record-validate  ERSEvidenceRecord.validate(verifier) for the last ATS (BC's own API: also re-checks
     *                   that the last ATS covers the previous ATSs of the last chain).
     */
    static Validation validateRecord(byte[] erBytes, ERSData data, List<X509CertificateHolder> extraCerts)
    {
        Validation v = new Validation();
        DigestCalculatorProvider digProv;
        try
        {
            digProv = digestProvider();
        }
        catch (Exception e)
        {
            return v.fail("setup", e);
        }

        EvidenceRecord asn;
        ERSEvidenceRecord rec;
        try
        {
            asn = EvidenceRecord.getInstance(erBytes);
            rec = new ERSEvidenceRecord(asn, digProv);
        }
        catch (Throwable e)
        {
            return v.fail("parse", e);
        }
        ArchiveTimeStampChain[] chains = asn.getArchiveTimeStampSequence().getArchiveTimeStampChains();
        int atsCount = 0;
        for (ArchiveTimeStampChain c : chains)
        {
            atsCount += c.getArchiveTimestamps().length;
        }
        v.checks.add("parse(chains=" + chains.length + ",ats=" + atsCount + ")");

        try
        {
            rec.validatePresent(data, new Date());
            v.checks.add("present");
        }
        catch (Throwable e)
        {
            v.fail("present", e);
        }

        if (chains.length > 1)
        {
            int chainFailures = 0;
            for (int i = 0; i < chains.length - 1; i++)
            {
                try
                {
                    ArchiveTimeStampChain[] prefix = Arrays.copyOf(chains, i + 1);
                    EvidenceRecord truncated = new EvidenceRecord(asn.getDigestAlgorithms(), null, null,
                        new ArchiveTimeStampSequence(prefix));
                    ERSEvidenceRecord tr = new ERSEvidenceRecord(truncated, digProv);
                    Date next = new ERSArchiveTimeStamp(chains[i + 1].getArchiveTimestamps()[0], digProv).getGenTime();
                    tr.validatePresent(data, next);
                }
                catch (Throwable e)
                {
                    v.fail("earlier-chains[chain " + i + "]", e);
                    chainFailures++;
                }
            }
            if (chainFailures == 0)
            {
                v.checks.add("earlier-chains(" + (chains.length - 1) + ")");
            }
        }

        int verified = 0;
        int embedded = 0;
        int skipped = 0;
        int sigFailures = 0;
        for (int c = 0; c < chains.length; c++)
        {
            ArchiveTimeStamp[] atss = chains[c].getArchiveTimestamps();
            for (int a = 0; a < atss.length; a++)
            {
                try
                {
                    ERSArchiveTimeStamp ats = new ERSArchiveTimeStamp(atss[a], digProv);
                    X509CertificateHolder cert = ats.getSigningCertificate();
                    if (cert != null)
                    {
                        embedded++;
                    }
                    else
                    {
                        cert = findCert(ats.getTimeStampToken(), extraCerts);
                    }
                    if (cert == null)
                    {
                        skipped++;
                        continue;
                    }
                    ats.validate(verifierFor(cert));
                    verified++;
                }
                catch (Throwable e)
                {
                    v.fail("ts-sig[chain " + c + " ats " + a + "]", e);
                    sigFailures++;
                }
            }
        }
        if (sigFailures > 0)
        {
            // failures already recorded
        }
        else if (verified > 0)
        {
            v.checks.add("ts-sig(" + verified + "/" + atsCount + ",embedded-cert=" + embedded
                + (skipped > 0 ? ",skipped-no-cert=" + skipped : "") + ")");
        }
        else
        {
            v.checks.add("ts-sig(skipped:no-cert)");
        }

        try
        {
            X509CertificateHolder last = rec.getSigningCertificate();
            if (last == null)
            {
                ArchiveTimeStamp[] lastChain = chains[chains.length - 1].getArchiveTimestamps();
                last = findCert(new ERSArchiveTimeStamp(lastChain[lastChain.length - 1], digProv).getTimeStampToken(),
                    extraCerts);
            }
            if (last != null)
            {
                rec.validate(verifierFor(last));
                v.checks.add("record-validate");
            }
            else
            {
                v.checks.add("record-validate(skipped:no-cert)");
            }
        }
        catch (Throwable e)
        {
            v.fail("record-validate", e);
        }
        return v;
    }

    static X509CertificateHolder findCert(TimeStampToken tok, List<X509CertificateHolder> certs)
    {
        for (X509CertificateHolder h : certs)
        {
            if (tok.getSID().match(h))
            {
                return h;
            }
        }
        return null;
    }

    static SignerInformationVerifier verifierFor(X509CertificateHolder cert)
        throws Exception
    {
        return new JcaSimpleSignerInfoVerifierBuilder().setProvider(BC).build(cert);
    }

    // ------------------------------------------------------------------ generate

    static int cmdGenerate(String[] args)
        throws Exception
    {
        if (args.length != 2)
        {
            throw new UsageException("generate needs <outdir> <N>");
        }
        File dir = new File(args[0]);
        int n = parsePositive(args[1]);
        if (!dir.isDirectory() && !dir.mkdirs())
        {
            throw new IOException("cannot create " + dir);
        }

        List<File> files = new ArrayList<File>();
        for (int i = 0; i < n; i++)
        {
            byte[] content = new byte[100 + RANDOM.nextInt(1901)];
            RANDOM.nextBytes(content);
            File f = new File(dir, "data-" + i + ".bin");
            writeFile(f, content);
            files.add(f);
        }

        // fresh TSA, persisted so renew-ts / renew-hash can reuse it
        Tsa tsa = Tsa.create("bewahr-interop BC TSA (generate)");
        File keyFile = new File(dir, "tsa.key");
        File pemFile = new File(dir, "tsa.pem");
        writeKeyPem(keyFile, tsa.key);
        writeCertsPem(pemFile, Collections.singletonList(tsa.cert), false);

        DigestCalculatorProvider digProv = digestProvider();
        ERSArchiveTimeStampGenerator gen = new ERSArchiveTimeStampGenerator(digProv.get(SHA256));
        List<ERSData> dataObjects = new ArrayList<ERSData>();
        for (File f : files)
        {
            dataObjects.add(new ERSFileData(f));
        }
        gen.addAllData(dataObjects);

        TimeStampRequest req = gen.generateTimeStampRequest(requestGenerator(), nonce());
        TimeStampResponse resp = tsa.respond(req);
        List<ERSArchiveTimeStamp> atss = gen.generateArchiveTimeStamps(resp);
        List<ERSEvidenceRecord> ers = new ERSEvidenceRecordGenerator(digProv).generate(atss);
        if (ers.size() != n)
        {
            throw new IllegalStateException("BC returned " + ers.size() + " evidence records for " + n + " objects");
        }
        for (int i = 0; i < n; i++)
        {
            writeFile(new File(dir, "data-" + i + ".ers"), ers.get(i).getEncoded());
        }
        OUT.println("generated " + n + " data files + evidence records in " + dir
            + " (root=" + Hex.toHexString(req.getMessageImprintDigest()) + ", tsa=" + tsa.cert.getSubject() + ")");

        // self-check: re-read every record from disk and validate it
        int ok = 0;
        for (int i = 0; i < n; i++)
        {
            File erFile = new File(dir, "data-" + i + ".ers");
            Validation v = validateRecord(readFile(erFile), new ERSFileData(files.get(i)),
                Collections.<X509CertificateHolder>emptyList());
            OUT.println("self-check " + erFile.getName() + ": " + v.line());
            if (v.valid)
            {
                ok++;
            }
        }
        OUT.println("self-check " + (ok == n ? "OK" : "FAILED") + " valid=" + ok + "/" + n);
        return ok == n ? EXIT_OK : EXIT_INVALID;
    }

    // ------------------------------------------------------------------ renew-ts

    static int cmdRenewTs(String[] args)
        throws Exception
    {
        if (args.length != 3)
        {
            throw new UsageException("renew-ts needs <in.er> <out.er> <tsa-dir>");
        }
        File in = new File(args[0]);
        File out = new File(args[1]);
        File tsaDir = new File(args[2]);
        DigestCalculatorProvider digProv = digestProvider();

        ERSEvidenceRecord er = new ERSEvidenceRecord(readFile(in), digProv);
        Tsa tsa = Tsa.loadOrCreate(tsaDir);

        ERSEvidenceRecord renewed;
        try
        {
            TimeStampRequest req = er.generateTimeStampRenewalRequest(requestGenerator(), nonce());
            TimeStampResponse resp = tsa.respond(req);
            renewed = er.renewTimeStamp(resp);
        }
        catch (org.bouncycastle.tsp.ers.ERSException e)
        {
            throw new FailedException("time-stamp renewal failed", e);
        }
        writeFile(out, renewed.getEncoded());
        OUT.println("RENEWED-TS " + in + " -> " + out + " " + shape(renewed) + " tsa=" + tsa.cert.getSubject()
            + " (" + tsa.origin + ")");
        return EXIT_OK;
    }

    // ------------------------------------------------------------------ renew-hash

    static int cmdRenewHash(String[] args)
        throws Exception
    {
        if (args.length < 4)
        {
            throw new UsageException("renew-hash needs <in.er> <out.er> <tsa-dir> <data-file> [...]");
        }
        File in = new File(args[0]);
        File out = new File(args[1]);
        File tsaDir = new File(args[2]);
        List<File> files = new ArrayList<File>();
        for (int i = 3; i < args.length; i++)
        {
            File f = new File(args[i]);
            if (!f.isFile())
            {
                throw new IOException("data file not found: " + f);
            }
            files.add(f);
        }
        DigestCalculatorProvider digProv = digestProvider();
        ERSEvidenceRecord er = new ERSEvidenceRecord(readFile(in), digProv);
        Tsa tsa = Tsa.loadOrCreate(tsaDir);
        ERSData data = dataFor(files);

        ERSEvidenceRecord renewed;
        try
        {
            DigestCalculator sha512 = digProv.get(SHA512);
            TimeStampRequest req = er.generateHashRenewalRequest(sha512, data, requestGenerator(), nonce());
            TimeStampResponse resp = tsa.respond(req);
            renewed = er.renewHash(digProv.get(SHA512), data, resp);
        }
        catch (org.bouncycastle.tsp.ers.ERSException e)
        {
            throw new FailedException("hash-tree renewal failed", e);
        }
        writeFile(out, renewed.getEncoded());
        OUT.println("RENEWED-HASH " + in + " -> " + out + " " + shape(renewed) + " digest=SHA-512 tsa="
            + tsa.cert.getSubject() + " (" + tsa.origin + ")");
        return EXIT_OK;
    }

    static String shape(ERSEvidenceRecord er)
    {
        ArchiveTimeStampChain[] chains = er.toASN1Structure().getArchiveTimeStampSequence().getArchiveTimeStampChains();
        StringBuilder sb = new StringBuilder("chains=" + chains.length + " ats-per-chain=[");
        for (int i = 0; i < chains.length; i++)
        {
            sb.append(i == 0 ? "" : ",").append(chains[i].getArchiveTimestamps().length);
        }
        return sb.append("]").toString();
    }

    // ------------------------------------------------------------------ bench-gen

    static int cmdBenchGen(String[] args)
        throws Exception
    {
        if (args.length == 0)
        {
            throw new UsageException("bench-gen needs <N> [...]");
        }
        int[] sizes = new int[args.length];
        for (int i = 0; i < args.length; i++)
        {
            sizes[i] = parsePositive(args[i]);
        }
        // keys, certificate, TSA and digest provider are created before any timing
        Tsa tsa = Tsa.create("bewahr-interop BC TSA (bench)");
        DigestCalculatorProvider digProv = digestProvider();

        // small untimed warm-up so class loading / JIT of the first size is not measured
        benchOnce(tsa, digProv, randomObjects(32));

        for (int n : sizes)
        {
            List<byte[]> objs = randomObjects(n);
            long t0 = System.nanoTime();
            List<ERSEvidenceRecord> ers = benchOnce(tsa, digProv, objs);
            long t1 = System.nanoTime();
            double s = (t1 - t0) / 1e9;

            // untimed sanity check on the first and last record
            for (int idx : new int[]{0, n - 1})
            {
                ers.get(idx).validatePresent(new ERSByteData(objs.get(idx)), new Date());
            }
            OUT.println(String.format(Locale.ROOT, "bc-generator leaves=%d seconds=%.3f records_per_second=%.1f",
                n, s, n / s));
            OUT.flush();
        }
        return EXIT_OK;
    }

    static List<byte[]> randomObjects(int n)
    {
        List<byte[]> objs = new ArrayList<byte[]>(n);
        for (int i = 0; i < n; i++)
        {
            byte[] b = new byte[64];
            RANDOM.nextBytes(b);
            objs.add(b);
        }
        return objs;
    }

    /** Timed part: add N objects, build request, time-stamp it, build and DER-encode all N records. */
    static List<ERSEvidenceRecord> benchOnce(Tsa tsa, DigestCalculatorProvider digProv, List<byte[]> objs)
        throws Exception
    {
        ERSArchiveTimeStampGenerator gen = new ERSArchiveTimeStampGenerator(digProv.get(SHA256));
        for (byte[] o : objs)
        {
            gen.addData(new ERSByteData(o));
        }
        TimeStampRequest req = gen.generateTimeStampRequest(requestGenerator(), nonce());
        TimeStampResponse resp = tsa.respond(req);
        List<ERSArchiveTimeStamp> atss = gen.generateArchiveTimeStamps(resp);
        List<ERSEvidenceRecord> ers = new ERSEvidenceRecordGenerator(digProv).generate(atss);
        long total = 0;
        for (ERSEvidenceRecord e : ers)
        {
            total += e.getEncoded().length;
        }
        if (ers.size() != objs.size() || total == 0)
        {
            throw new IllegalStateException("unexpected record count " + ers.size());
        }
        return ers;
    }

    // ------------------------------------------------------------------ dump

    static int cmdDump(String[] args)
        throws Exception
    {
        if (args.length != 1)
        {
            throw new UsageException("dump needs <er.der>");
        }
        DigestCalculatorProvider digProv = digestProvider();
        EvidenceRecord asn = EvidenceRecord.getInstance(readFile(new File(args[0])));
        AlgorithmIdentifier[] algs = asn.getDigestAlgorithms();
        StringBuilder sb = new StringBuilder();
        for (AlgorithmIdentifier a : algs)
        {
            sb.append(sb.length() == 0 ? "" : ",").append(algName(a));
        }
        OUT.println("EvidenceRecord digestAlgorithms=[" + sb + "]");
        ArchiveTimeStampChain[] chains = asn.getArchiveTimeStampSequence().getArchiveTimeStampChains();
        for (int c = 0; c < chains.length; c++)
        {
            ArchiveTimeStamp[] atss = chains[c].getArchiveTimestamps();
            OUT.println("chain " + c + ": " + atss.length + " ArchiveTimeStamp(s)");
            for (int a = 0; a < atss.length; a++)
            {
                ArchiveTimeStamp ats = atss[a];
                ERSArchiveTimeStamp ers = new ERSArchiveTimeStamp(ats, digProv);
                TimeStampTokenInfo info = ers.getTimeStampToken().getTimeStampInfo();
                OUT.println("  ats " + a + ": digestAlgorithm field="
                    + (ats.getDigestAlgorithm() == null ? "absent" : algName(ats.getDigestAlgorithm()))
                    + " effective=" + algName(ats.getDigestAlgorithmIdentifier()));
                PartialHashtree[] rht = ats.getReducedHashTree();
                if (rht == null)
                {
                    OUT.println("    reducedHashtree: absent");
                }
                else
                {
                    OUT.println("    reducedHashtree: " + rht.length + " PartialHashtree(s)");
                    for (int p = 0; p < rht.length; p++)
                    {
                        byte[][] vals = rht[p].getValues();
                        StringBuilder vs = new StringBuilder();
                        for (byte[] val : vals)
                        {
                            vs.append(vs.length() == 0 ? "" : " ").append(Hex.toHexString(val));
                        }
                        OUT.println("      [" + p + "] " + vals.length + " value(s): " + vs);
                    }
                }
                OUT.println("    timeStamp: genTime=" + isoTime(info.getGenTime()) + " serial=" + info.getSerialNumber()
                    + " policy=" + info.getPolicy());
                OUT.println("      imprint " + algName(info.getHashAlgorithm()) + " "
                    + Hex.toHexString(info.getMessageImprintDigest()));
                X509CertificateHolder cert = ers.getSigningCertificate();
                SignerInformation si = ers.getTimeStampToken().toCMSSignedData().getSignerInfos().getSigners()
                    .iterator().next();
                AttributeTable signed = si.getSignedAttributes();
                String ess = signed == null ? "none"
                    : signed.get(PKCSObjectIdentifiers.id_aa_signingCertificateV2) != null ? "signingCertificateV2"
                    : signed.get(PKCSObjectIdentifiers.id_aa_signingCertificate) != null ? "signingCertificate(v1)"
                    : "none";
                OUT.println("      signer=" + (cert == null ? "(certificate not embedded) sid=" + si.getSID()
                    : cert.getSubject().toString()) + " ess=" + ess);
            }
        }
        return EXIT_OK;
    }

    static String algName(AlgorithmIdentifier a)
    {
        ASN1ObjectIdentifier o = a.getAlgorithm();
        String n = o.equals(NISTObjectIdentifiers.id_sha256) ? "SHA-256"
            : o.equals(NISTObjectIdentifiers.id_sha384) ? "SHA-384"
            : o.equals(NISTObjectIdentifiers.id_sha512) ? "SHA-512"
            : o.equals(NISTObjectIdentifiers.id_sha224) ? "SHA-224"
            : o.equals(new ASN1ObjectIdentifier("1.3.14.3.2.26")) ? "SHA-1"
            : o.getId();
        return n + (a.getParameters() == null ? "" : "(params=" + a.getParameters() + ")");
    }

    // ------------------------------------------------------------------ TSA

    static final class Tsa
    {
        final PrivateKey key;
        final X509CertificateHolder cert;
        final TimeStampResponseGenerator respGen;
        final String origin;

        Tsa(PrivateKey key, X509CertificateHolder cert, String origin)
            throws Exception
        {
            this.key = key;
            this.cert = cert;
            this.origin = origin;
            SignerInfoGenerator sig = new JcaSimpleSignerInfoGeneratorBuilder().setProvider(BC)
                .build(sigAlgFor(key), key, cert);
            // a SHA-256 digest calculator here makes BC emit signingCertificateV2 / ESSCertIDv2
            TimeStampTokenGenerator tokGen = new TimeStampTokenGenerator(sig, digestProvider().get(SHA256), TSA_POLICY);
            tokGen.addCertificates(new CollectionStore<X509CertificateHolder>(Collections.singletonList(cert)));
            this.respGen = new TimeStampResponseGenerator(tokGen, TSPAlgorithms.ALLOWED);
        }

        static Tsa create(String cn)
            throws Exception
        {
            KeyPairGenerator kpg = KeyPairGenerator.getInstance("RSA");
            kpg.initialize(2048, RANDOM);
            KeyPair kp = kpg.generateKeyPair();
            return new Tsa(kp.getPrivate(), selfSignedTsaCert(kp.getPublic(), kp.getPrivate(), cn), "new");
        }

        /**
         * tsa-dir/tsa.key (PKCS#8 PEM) holds the key; tsa-dir/tsa.pem is a bundle in which the
         * certificate matching the key is the TSA certificate. Missing pieces are created; a newly
         * created certificate is appended to tsa.pem.
         */
        static Tsa loadOrCreate(File dir)
            throws Exception
        {
            if (!dir.isDirectory() && !dir.mkdirs())
            {
                throw new IOException("cannot create " + dir);
            }
            File keyFile = new File(dir, "tsa.key");
            File pemFile = new File(dir, "tsa.pem");
            List<X509CertificateHolder> bundle = pemFile.isFile() ? readCerts(pemFile)
                : new ArrayList<X509CertificateHolder>();
            if (!keyFile.isFile())
            {
                Tsa t = create("bewahr-interop BC TSA " + dir.getName() + " " + Long.toHexString(RANDOM.nextLong()));
                writeKeyPem(keyFile, t.key);
                writeCertsPem(pemFile, Collections.singletonList(t.cert), true);
                return new Tsa(t.key, t.cert, "new key+cert in " + dir);
            }
            PrivateKey key = readPrivateKey(keyFile);
            for (X509CertificateHolder h : bundle)
            {
                if (keyMatches(key, h))
                {
                    return new Tsa(key, h, "reused from " + dir);
                }
            }
            if (!(key instanceof RSAPrivateCrtKey))
            {
                throw new IOException("no certificate in " + pemFile + " matches " + keyFile
                    + " and a new one can only be derived for RSA keys");
            }
            RSAPrivateCrtKey crt = (RSAPrivateCrtKey)key;
            PublicKey pub = KeyFactory.getInstance("RSA")
                .generatePublic(new RSAPublicKeySpec(crt.getModulus(), crt.getPublicExponent()));
            X509CertificateHolder cert = selfSignedTsaCert(pub, key,
                "bewahr-interop BC TSA " + dir.getName() + " " + Long.toHexString(RANDOM.nextLong()));
            writeCertsPem(pemFile, Collections.singletonList(cert), true);
            return new Tsa(key, cert, "reused key, new cert appended to " + pemFile);
        }

        TimeStampResponse respond(TimeStampRequest req)
            throws Exception
        {
            BigInteger serial = new BigInteger(63, RANDOM).add(BigInteger.ONE);
            TimeStampResponse resp = respGen.generate(req, serial, new Date());
            if (resp.getStatus() != 0 && resp.getStatus() != 1)
            {
                throw new IllegalStateException("TSA refused request: status=" + resp.getStatus() + " "
                    + resp.getStatusString());
            }
            // round-trip through DER as a real TSA client would, then check it answers the request
            resp = new TimeStampResponse(resp.getEncoded());
            resp.validate(req);
            return resp;
        }
    }

    static X509CertificateHolder selfSignedTsaCert(PublicKey pub, PrivateKey priv, String cn)
        throws Exception
    {
        X500Name name = new X500Name("CN=" + cn.replace(",", " ") + ",O=bewahr interop tests");
        Date notBefore = new Date(System.currentTimeMillis() - 24L * 3600 * 1000);
        Date notAfter = new Date(System.currentTimeMillis() + 10L * 365 * 24 * 3600 * 1000);
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name,
            new BigInteger(63, RANDOM).add(BigInteger.ONE), notBefore, notAfter, name, pub);
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        b.addExtension(Extension.extendedKeyUsage, true, new ExtendedKeyUsage(KeyPurposeId.id_kp_timeStamping));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.nonRepudiation));
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pub));
        ContentSigner signer = new JcaContentSignerBuilder(sigAlgFor(priv)).setProvider(BC).build(priv);
        return b.build(signer);
    }

    static String sigAlgFor(PrivateKey k)
    {
        String a = k.getAlgorithm();
        if (a.equals("RSA"))
        {
            return "SHA256withRSA";
        }
        if (a.equals("EC") || a.equals("ECDSA"))
        {
            return "SHA256withECDSA";
        }
        if (a.equals("Ed25519") || a.equals("EdDSA"))
        {
            return "Ed25519";
        }
        throw new IllegalArgumentException("unsupported TSA key algorithm " + a);
    }

    static boolean keyMatches(PrivateKey key, X509CertificateHolder cert)
    {
        try
        {
            PublicKey pub = new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().setProvider(BC)
                .getCertificate(cert).getPublicKey();
            byte[] probe = "bewahr-key-match".getBytes(StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(sigAlgFor(key), BC);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature ver = Signature.getInstance(sigAlgFor(key), BC);
            ver.initVerify(pub);
            ver.update(probe);
            return ver.verify(sig);
        }
        catch (Exception e)
        {
            return false;
        }
    }

    // ------------------------------------------------------------------ helpers

    static DigestCalculatorProvider digestProvider()
        throws Exception
    {
        return new JcaDigestCalculatorProviderBuilder().setProvider(BC).build();
    }

    static TimeStampRequestGenerator requestGenerator()
    {
        TimeStampRequestGenerator g = new TimeStampRequestGenerator();
        g.setCertReq(true);
        return g;
    }

    static BigInteger nonce()
    {
        return new BigInteger(64, RANDOM);
    }

    static int parsePositive(String s)
        throws UsageException
    {
        try
        {
            int n = Integer.parseInt(s);
            if (n <= 0)
            {
                throw new NumberFormatException();
            }
            return n;
        }
        catch (NumberFormatException e)
        {
            throw new UsageException("not a positive integer: " + s);
        }
    }

    static byte[] readFile(File f)
        throws IOException
    {
        InputStream in = new FileInputStream(f);
        try
        {
            ByteArrayOutputStream bo = new ByteArrayOutputStream();
            byte[] buf = new byte[65536];
            int r;
            while ((r = in.read(buf)) >= 0)
            {
                bo.write(buf, 0, r);
            }
            return bo.toByteArray();
        }
        finally
        {
            in.close();
        }
    }

    static void writeFile(File f, byte[] data)
        throws IOException
    {
        File parent = f.getAbsoluteFile().getParentFile();
        if (parent != null && !parent.isDirectory() && !parent.mkdirs())
        {
            throw new IOException("cannot create " + parent);
        }
        FileOutputStream out = new FileOutputStream(f);
        try
        {
            out.write(data);
        }
        finally
        {
            out.close();
        }
    }

    static List<X509CertificateHolder> readCerts(File pem)
        throws IOException
    {
        List<X509CertificateHolder> l = new ArrayList<X509CertificateHolder>();
        PEMParser p = new PEMParser(new FileReader(pem, StandardCharsets.US_ASCII));
        try
        {
            Object o;
            while ((o = p.readObject()) != null)
            {
                if (o instanceof X509CertificateHolder)
                {
                    l.add((X509CertificateHolder)o);
                }
            }
        }
        finally
        {
            p.close();
        }
        return l;
    }

    static PrivateKey readPrivateKey(File pem)
        throws IOException
    {
        PEMParser p = new PEMParser(new FileReader(pem, StandardCharsets.US_ASCII));
        try
        {
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter().setProvider(BC);
            Object o;
            while ((o = p.readObject()) != null)
            {
                if (o instanceof PrivateKeyInfo)
                {
                    return conv.getPrivateKey((PrivateKeyInfo)o);
                }
                if (o instanceof PEMKeyPair)
                {
                    return conv.getKeyPair((PEMKeyPair)o).getPrivate();
                }
            }
        }
        finally
        {
            p.close();
        }
        throw new IOException("no (unencrypted) private key found in " + pem);
    }

    static void writeKeyPem(File f, PrivateKey key)
        throws IOException
    {
        Writer w = new OutputStreamWriter(new FileOutputStream(f), StandardCharsets.US_ASCII);
        JcaPEMWriter pw = new JcaPEMWriter(w);
        try
        {
            pw.writeObject(new JcaPKCS8Generator(key, null));
        }
        finally
        {
            pw.close();
        }
        f.setReadable(false, false);
        f.setReadable(true, true);
    }

    static void writeCertsPem(File f, Collection<X509CertificateHolder> certs, boolean append)
        throws IOException
    {
        Writer w = new OutputStreamWriter(new FileOutputStream(f, append), StandardCharsets.US_ASCII);
        JcaPEMWriter pw = new JcaPEMWriter(w);
        try
        {
            for (X509CertificateHolder c : certs)
            {
                pw.writeObject(c);
            }
        }
        finally
        {
            pw.close();
        }
    }

    static String isoTime(Date d)
    {
        SimpleDateFormat f = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT);
        f.setTimeZone(TimeZone.getTimeZone("UTC"));
        return f.format(d);
    }

    static String describe(Throwable t)
    {
        StringBuilder sb = new StringBuilder();
        Throwable cur = t;
        int depth = 0;
        while (cur != null && depth < 4)
        {
            if (depth > 0)
            {
                sb.append(" <- ");
            }
            String m = cur.getMessage();
            sb.append(cur.getClass().getSimpleName()).append(m == null ? "" : ": " + m.replace('\n', ' '));
            Throwable next = cur.getCause();
            if (next == cur)
            {
                break;
            }
            cur = next;
            depth++;
        }
        return sb.toString();
    }
}
