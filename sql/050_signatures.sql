--
-- 050_signatures: registered signers, proof of origin and of receipt
-- (docs/signatures.md; M4: JR/T 0117 8.3.4g, JR/T 0096.5 4.4.4; M6: JR/T
-- 0096.5 4.4.2).  Published test vectors prove that verification computes
-- what the standards define; every refusal names its rule.
--
SET client_min_messages = warning;

CREATE ROLE regress_sig_admin IN ROLE finsec_admin;
CREATE ROLE regress_sig_app IN ROLE finsec_app;
CREATE ROLE regress_sig_auditor IN ROLE finsec_auditor;
CREATE ROLE regress_sig_outsider;

-- ---------------------------------------------------------------------
-- Vector 1: ECDSA P-256 with SHA-256, RFC 6979 appendix A.2.5.
-- Public key U = xG for x = C9AFA9D8...0F6721; message "sample" gives
-- r = EFD48B2A...4EAF3716, s = F7CB1C94...843ACDA8, and "test" gives
-- r = F1ABB023...B7D38367, s = 019F4113...E46F0083 (DER-encoded here).
-- ---------------------------------------------------------------------
SET ROLE regress_sig_admin;
SELECT finsec.register_signer('rfc6979-p256', '-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7
Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==
-----END PUBLIC KEY-----
');
RESET ROLE;
SET ROLE regress_sig_app;
SELECT finsec.verify_signature('rfc6979-p256', 'sample',
  '\x3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8') AS rfc6979_sample,
       finsec.verify_signature('rfc6979-p256', 'test',
  '\x3045022100f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d383670220019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083',
  'ecdsa-sha256') AS rfc6979_test;
-- Tampered data, a signature of another message, a flipped bit, garbage: false.
SELECT finsec.verify_signature('rfc6979-p256', 'Sample',
  '\x3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8') AS tampered_data,
       finsec.verify_signature('rfc6979-p256', 'sample',
  '\x3045022100f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d383670220019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083') AS other_signature,
       finsec.verify_signature('rfc6979-p256', 'sample',
  '\x3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda9') AS flipped_bit,
       finsec.verify_signature('rfc6979-p256', 'sample', '\x00') AS garbage;
-- require_signature() is the same check, raising instead of returning false.
SELECT finsec.require_signature('rfc6979-p256', 'sample',
  '\x3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');
SELECT finsec.require_signature('rfc6979-p256', 'Sample',
  '\x3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Malformed inputs are errors, not false: an algorithm that does not fit
-- the key, an unknown one, an SM2 id for an ECDSA key, a NULL, a signer
-- nobody registered.
SELECT finsec.verify_signature('rfc6979-p256', 'sample', '\x00', 'rsa-pss-sha256');
SELECT finsec.verify_signature('rfc6979-p256', 'sample', '\x00', 'ecdsa-sha1');
SELECT finsec.verify_signature('rfc6979-p256', 'sample', '\x00', NULL, '1234567812345678'::bytea);
SELECT finsec.verify_signature('rfc6979-p256', NULL, '\x00');
SELECT finsec.verify_signature('nobody', 'sample', '\x00');
RESET ROLE;

-- ---------------------------------------------------------------------
-- Vector 2: SM2 with SM3 over the recommended curve sm2p256v1 and the
-- default user id 1234567812345678 (GM/T 0009-2012 section 10).
-- GB/T 32918.5-2017 (= GM/T 0003.5-2012) annex A: private key
-- d = 3945208F...4DF7C5B8, public key (09F9DF31...56F35020,
-- CCEA490C...2DA9AD13), message "message digest", signature
-- r = F5A03B06...CEEE720B3, s = B1B6AA29...C485BBC1AA (DER-encoded here);
-- also used by OpenSSL's test/sm2_internal_test.c.
-- ---------------------------------------------------------------------
SET ROLE regress_sig_admin;
SELECT finsec.register_signer('gbt32918-sm2', '-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAECfnfMR5UIaFQ3X0WHkvFxnIXn60Y
M/wHa7CP81bzUCDM6kkM4md1pS3G6nGMwapgCu0F+/NeCEpmMvYHLamtEw==
-----END PUBLIC KEY-----');
RESET ROLE;
SET ROLE regress_sig_app;
SELECT finsec.verify_signature('gbt32918-sm2', 'message digest',
  '\x3046022100f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa') AS gbt32918_annex_a,
       finsec.verify_signature('gbt32918-sm2', 'message digest',
  '\x3046022100f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa',
  'sm2-sm3', '1234567812345678'::bytea) AS explicit_default_id,
       finsec.verify_signature('gbt32918-sm2', 'message digest',
  '\x3046022100f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa',
  'sm2-sm3', 'ALICE123@YAHOO.COM'::bytea) AS other_id,
       finsec.verify_signature('gbt32918-sm2', 'message digesT',
  '\x3046022100f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa') AS tampered_data;
-- SM2 signatures use SM3; an id must fit ENTL's 16 bits.
SELECT finsec.verify_signature('gbt32918-sm2', 'message digest', '\x00', 'ecdsa-sha256');
SELECT finsec.verify_signature('gbt32918-sm2', 'message digest', '\x00', NULL, '');
RESET ROLE;
-- A signer registered with another agreed user id verifies under that id.
SET ROLE regress_sig_admin;
SELECT finsec.register_signer('gbt32918-sm2-alice', pem, 'ALICE123@YAHOO.COM'::bytea) = spki_sha256 AS same_key
  FROM finsec.signer WHERE name = 'gbt32918-sm2';
RESET ROLE;
SELECT finsec.verify_signature('gbt32918-sm2-alice', 'message digest',
  '\x3046022100f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa') AS default_id_refused,
       finsec.verify_signature('gbt32918-sm2-alice', 'message digest',
  '\x3046022100f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3022100b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa',
  NULL, '1234567812345678'::bytea) AS explicit_id_wins;

-- ---------------------------------------------------------------------
-- Vector 3: RSA-2048, PKCS#1 v1.5 and PSS with SHA-256, Project
-- Wycheproof (github.com/C2SP/wycheproof, testvectors/
-- rsa_signature_2048_sha256_test.json and
-- rsa_pss_2048_sha256_mgf1_32_test.json, both tcId 3: message "Test";
-- tcId 9 of the first is an invalid signature of "123400").
-- ---------------------------------------------------------------------
SELECT finsec.register_signer('wycheproof-rsa2048', '-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAorRRoH0KpfluRVZxUTVQ
UUqKW0YuvvcXCU+h/ugiJOY3+XRtP3yv0xh42AMltu9aFwD2WQO0aUKeidbqyIRQ
l7WrOTGJ25JRLtincRoSU/rNIPecFegkfz0+QuRuSMmOJUov6XZTE6A+/48X4aAp
OXofomqNzib0kO2BKZYV2YFMItphBCjgnH2WWFlCZvXAIdD87KCNlFoSvoLeTR7O
a0wDFFtdNJXU7VQR64eNrwX9evw+Ca2g8RJkIvWQl1oZaYFvSGmLy7obTZyuedRg
2Pn4Xnl1AF2bwixOWsD3waRdElaaYoB9O5oC5aUw53MGb0U9H1tMLpz3ggKD90K5
1QIDAQAB
-----END PUBLIC KEY-----');
SELECT finsec.verify_signature('wycheproof-rsa2048', 'Test',
  '\x264491e844c119f14e425c03282139a558dcdaeb82a4628173cd407fd319f9076eaebc0dd87a1c22e4d17839096886d58a9d5b7f7aeb63efec56c45ac7bead4203b6886e1faa90e028ec0ae094d46bf3f97efdd19045cfbc25a1abda2432639f9876405c0d68f8edbf047c12a454f7681d5d5a2b54bd3723d193dbad4338baad753264006e2d08931c4b8bb79aa1c9cad10eb6605f87c5831f6e2b08e002f9c6f21141f5841d92727dd3e1d99c36bc560da3c9067df99fcaf818941f72588be33032bad22caf6704223bb114d575b6d02d9d222b580005d930e8f40cce9f672eebb634a20177d84351627964b83f2053d736a84ab1a005f63bd5ba943de6205c') AS pkcs1_tc3,
       finsec.verify_signature('wycheproof-rsa2048', '123400',
  '\x8a0e82d4f334aca72a718b6f8f643f69c6048d619d5eba71263a5d2d3ac7a7af133b780c7595ca2c982c006e861948f543cd0210c758691f9626842c25de2843ea314ca8eff285d47e0cffa54180af416004017034962a80a5959c3d3f1bfc154a4824462a93c014f6dfe920824f414a6e30e0e5944d480b99949ec7bf64c4a7461575933b17d7d6b0178b5192392ace3ed8469e8ac1dacae51ad5d3ad73dcb213e056d04596e64d8c0703def3110c7cecc93ba8ac8059f0f3d66b89d8712c62b41d407e4b4a104f4569558b0290c213cad6d0653898b9df8f4a453ab07d13bfb7598d505abbd0c4987e4f1ac66e1a523e113e370ab7cf990f0cc63f50f4f0a4') AS pkcs1_tc9_invalid,
       finsec.verify_signature('wycheproof-rsa2048', 'Test',
  '\x401eb03cdb47ca88033e3030f6bdecbac8f5c8fc1dd6a13d23d379ed9a2b309891d13d74fea9d21d159b9e6d8f37efa2489962e24555f56dd434ff1d31ce4f9f5abd3f22cbea8b691d6a11e44efb83e2bca155e6a164325e0fde2a8865afd5c9f51161a9d615f62af7ec2e31b3e5ab649c164490d31d88cfae35b84aea7925690f929a144b6d2f48e8fb894a52deecd1b9a6496990c4ecf1588699a42cacd10c53af350514e4291ea9a058e77f101e32c1c0cefa61d945f7bc931f8bd19e7ba3169358a60e5a8b0123bc3199b9fdcafe8e519c41ba675491a27b85e44ef2d77277c10fe107293c8290186913bc9a99b640d8da041b64f31eab1d35920985f4a5',
  'rsa-pss-sha256') AS pss_tc3,
       finsec.verify_signature('wycheproof-rsa2048', 'Test',
  '\x401eb03cdb47ca88033e3030f6bdecbac8f5c8fc1dd6a13d23d379ed9a2b309891d13d74fea9d21d159b9e6d8f37efa2489962e24555f56dd434ff1d31ce4f9f5abd3f22cbea8b691d6a11e44efb83e2bca155e6a164325e0fde2a8865afd5c9f51161a9d615f62af7ec2e31b3e5ab649c164490d31d88cfae35b84aea7925690f929a144b6d2f48e8fb894a52deecd1b9a6496990c4ecf1588699a42cacd10c53af350514e4291ea9a058e77f101e32c1c0cefa61d945f7bc931f8bd19e7ba3169358a60e5a8b0123bc3199b9fdcafe8e519c41ba675491a27b85e44ef2d77277c10fe107293c8290186913bc9a99b640d8da041b64f31eab1d35920985f4a5') AS pss_as_pkcs1;

-- What a DBA compares with the counterparty out of band.
SELECT name, algorithm, key_bits, spki_sha256, sm2_id, cert_subject IS NOT NULL AS certificate,
       registered_by, revoked_at IS NOT NULL AS revoked
  FROM finsec.signer ORDER BY id;

-- ---------------------------------------------------------------------
-- M6 key policy.  RSA-1024 is refused under the default 2048 and accepted
-- once the setting is lowered to the standard's floor; RSA-512 is refused
-- always, and the setting cannot go below 1024.  Curves other than P-256
-- and SM2 are refused.
-- ---------------------------------------------------------------------
\set rsa1024 '-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC39W+EKf8lZESbHFZ8bTjvjAKQ\n6iw2keJ99gU2qq+TuDFbG0o0S/HOsOqPkKZu31kaQCDxp69Cg1U75czXgWA+E4qZ\nVHnpRwfH5gxfSjG56dSYhb/Chz/qPEpoHJN0W3PLUCe9QSxULOgxNXk/3iabUaYF\nDdYjy8jtj1/kke1XMQIDAQAB\n-----END PUBLIC KEY-----'
\set rsa512 '-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALaTlZfwVp2f63r1V1TH3+LdnnTvoOno\nnSb989I5THtf8qonaElQwtwcTj5us3HYq51OGAlD7fkByn9tkWHc23sCAwEAAQ==\n-----END PUBLIC KEY-----'
SELECT finsec.register_signer('rsa1024', :'rsa1024');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET finsec.signature_min_rsa_bits = 512;
SET finsec.signature_min_rsa_bits = 1024;
SELECT finsec.register_signer('rsa1024', :'rsa1024') IS NOT NULL AS registered;
SELECT finsec.register_signer('rsa512', :'rsa512');
SELECT * FROM finsec.status_signature() ORDER BY component;
-- Raising the minimum again stops the weak key from verifying, and the
-- status says so.
RESET finsec.signature_min_rsa_bits;
SELECT finsec.verify_signature('rsa1024', 'x', '\x00');
SELECT component, ok, detail FROM finsec.status_signature() WHERE component = 'signers';
-- A non-superuser cannot lower the minimum.
SET ROLE regress_sig_admin;
SET finsec.signature_min_rsa_bits = 1024;
RESET ROLE;
-- P-384 and secp256k1 keys.
SELECT finsec.register_signer('p384', '-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAElsYm2V4fAlsVUNG5gZ24ORJVQfGZiBs8
0ETGwjUghySVeSRxyj6jYQFDh9dG+I4vYczvquIxbVXQIxqNgfKKrPWI1lBneokM
SPcj1utBUaMqy8rjUTT1dVls395kiApg
-----END PUBLIC KEY-----');
SELECT finsec.register_signer('k256', '-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEi6zk35F0/ygQbVSDtux9xFBB6xFBIEW5
IbEeAf8pBI/BtKml/ABcIKDkTCJQ0pcI3CaqfblzyTp8+1dFX4NUxw==
-----END PUBLIC KEY-----');

-- Malformed PEM: base64 damage, no PEM at all, two blocks, a private key
-- (refused without being read), a PKCS#1 RSA key, a duplicate name, a
-- name with a line break.
SELECT finsec.register_signer('bad', '-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7
-----END PUBLIC KEY-----');
SELECT finsec.register_signer('bad', 'not a key');
SELECT finsec.register_signer('bad', :'rsa1024' || E'\n' || :'rsa1024');
SELECT finsec.register_signer('bad', E'-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----');
SELECT finsec.register_signer('bad', E'-----BEGIN RSA PUBLIC KEY-----\nMIGJAoGBALf1\n-----END RSA PUBLIC KEY-----');
SELECT finsec.register_signer('rfc6979-p256', pem) FROM finsec.signer WHERE name = 'rfc6979-p256';
SELECT finsec.register_signer(E'bad\nname', pem) FROM finsec.signer WHERE name = 'rfc6979-p256';

-- ---------------------------------------------------------------------
-- Certificates.  Self-signed with the RFC 6979 key above (its private key
-- is published), so the ECDSA vectors verify under them too.  A
-- certificate outside its validity period is refused, at registration if
-- it has expired, at verification whenever it is not valid now (S9S03).
-- ---------------------------------------------------------------------
SELECT finsec.register_signer('bank-a', '-----BEGIN CERTIFICATE-----
MIIBdjCCARygAwIBAgICEAEwCgYIKoZIzj0EAwIwQzELMAkGA1UEBhMCQ04xFDAS
BgNVBAoMC2ZpbnNlYyB0ZXN0MR4wHAYDVQQDDBVyZmM2OTc5IHAtMjU2IGN1cnJl
bnQwIBcNMjAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMEMxCzAJBgNVBAYT
AkNOMRQwEgYDVQQKDAtmaW5zZWMgdGVzdDEeMBwGA1UEAwwVcmZjNjk3OSBwLTI1
NiBjdXJyZW50MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0
xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU
1EYimTAKBggqhkjOPQQDAgNIADBFAiBZDX5cQjrbDyP4Ph5VDzxziKVTd/70FBUh
XL1fJ/MBugIhAOtluprAe4n8DdAxcqJuIxLEPGvEAhA7YQcZo5mYoZND
-----END CERTIFICATE-----') = (SELECT spki_sha256 FROM finsec.signer WHERE name = 'rfc6979-p256') AS same_key_as_rfc6979;
SELECT name, algorithm, cert_subject, cert_issuer, cert_serial, not_before, not_after
  FROM finsec.signer WHERE cert_subject IS NOT NULL;
SELECT finsec.verify_signature('bank-a', 'sample',
  '\x3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8') AS via_certificate;
SELECT finsec.register_signer('bank-a-expired', '-----BEGIN CERTIFICATE-----
MIIBczCCARqgAwIBAgICEAIwCgYIKoZIzj0EAwIwQzELMAkGA1UEBhMCQ04xFDAS
BgNVBAoMC2ZpbnNlYyB0ZXN0MR4wHAYDVQQDDBVyZmM2OTc5IHAtMjU2IGV4cGly
ZWQwHhcNMDAwMTAxMDAwMDAwWhcNMDEwMTAxMDAwMDAwWjBDMQswCQYDVQQGEwJD
TjEUMBIGA1UECgwLZmluc2VjIHRlc3QxHjAcBgNVBAMMFXJmYzY5NzkgcC0yNTYg
ZXhwaXJlZDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABGD+1LolWp0xyWHrdMY1
bWjASbiSO2H6bOZpYi5g8p+2eQP+EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRG
IpkwCgYIKoZIzj0EAwIDRwAwRAIgVeINRuerJznGLQ3BzT+DlBp+YS6HiqX58eoF
i1/3n0UCIAkbc31UCVNFqCPEd5Vm076hvDvU9aeYdr9hvARVAXM6
-----END CERTIFICATE-----');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A certificate valid only from 2090 may be registered ahead of time, but
-- verifies nothing until then.
SELECT finsec.register_signer('bank-a-2090', '-----BEGIN CERTIFICATE-----
MIIBdzCCARygAwIBAgICEAMwCgYIKoZIzj0EAwIwQjELMAkGA1UEBhMCQ04xFDAS
BgNVBAoMC2ZpbnNlYyB0ZXN0MR0wGwYDVQQDDBRyZmM2OTc5IHAtMjU2IGZ1dHVy
ZTAiGA8yMDkwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjBCMQswCQYDVQQG
EwJDTjEUMBIGA1UECgwLZmluc2VjIHRlc3QxHTAbBgNVBAMMFHJmYzY5NzkgcC0y
NTYgZnV0dXJlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0
xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU
1EYimTAKBggqhkjOPQQDAgNJADBGAiEAitKk4NVFGscX3nU43Nsk2XwkrQXuyeU+
jHtxonNDXScCIQCNuWISFPGUtJFGdXllXA6pivWunXLo4GdTHlKFi4nREQ==
-----END CERTIFICATE-----') IS NOT NULL AS registered;
SELECT finsec.verify_signature('bank-a-2090', 'sample',
  '\x3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- ---------------------------------------------------------------------
-- Proof of receipt: a finsec-receipt/1 made in Python (cryptography),
-- signed with the RFC 6979 key, as a counterparty "bank-b-receipts" would
-- send it.  It verifies against the message it acknowledges, and fails
-- for another message or any change.
-- ---------------------------------------------------------------------
\set receipt '{"format": "finsec-receipt/1", "signed": "finsec-receipt/1\\nsigner: bank-b-receipts\\nkey-version: 3\\nsignature-algorithm: ecdsa-sha256\\ndigest-algorithm: sha256\\nmessage-digest: 72efb4f5a0fdf650c7cd70a8a61229a065d56ea87ed345ef738424c422dd972c\\nreceived-at: 2024-06-01T08:30:00.000000Z\\nreference: order 20240001\\n", "signature": "MEUCIDhd4egF3zlfqfU29icMUW+DA3D4lFFNtRVuvU3DGyhYAiEA0VtWdXEMgg0IKdr1OLpQp1AbmZAIVM4tvFawD3n+Olo=", "signer": "bank-b-receipts", "key_version": 3, "signature_algorithm": "ecdsa-sha256", "digest_algorithm": "sha256", "message_digest": "72efb4f5a0fdf650c7cd70a8a61229a065d56ea87ed345ef738424c422dd972c", "received_at": "2024-06-01T08:30:00.000000Z", "reference": "order 20240001"}'
SET ROLE regress_sig_app;
SELECT finsec.verify_receipt('rfc6979-p256', :'receipt') AS signature_ok,
       finsec.verify_receipt('rfc6979-p256', :'receipt', 'payment order 20240001: 100.00 CNY') AS acknowledges_message,
       finsec.verify_receipt('rfc6979-p256', :'receipt', 'payment order 20240001: 900.00 CNY') AS other_message,
       finsec.verify_receipt('rfc6979-p256',
         jsonb_set(:'receipt', '{signed}', to_jsonb(replace(:'receipt'::jsonb->>'signed', '08:30', '08:31')))) AS changed_time,
       finsec.verify_receipt('rfc6979-p256', jsonb_set(:'receipt', '{reference}', '"order 20240002"')) AS changed_copy,
       finsec.verify_receipt('gbt32918-sm2', :'receipt') AS wrong_signer;
SELECT finsec.verify_receipt('rfc6979-p256', '{"format": "finsec-receipt/1", "signed": "hello\n", "signature": ""}');
SELECT finsec.verify_receipt('rfc6979-p256', '{"format": "other/9"}');
RESET ROLE;

-- ---------------------------------------------------------------------
-- Revocation: audited, and a revoked signer's signatures are refused
-- (S9S02).  The name can then be registered again for a new key.
-- ---------------------------------------------------------------------
SET ROLE regress_sig_admin;
SELECT finsec.revoke_signer('bank-a', 'replaced by bank-a-2090');
SELECT finsec.revoke_signer('bank-a', 'again');
SELECT finsec.revoke_signer('nobody', 'typo');
SELECT finsec.revoke_signer('rfc6979-p256', '');
RESET ROLE;
SELECT finsec.verify_signature('bank-a', 'sample',
  '\x3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The name is free again: the new certificate takes it over, and verifying
-- as bank-a now uses it.
SELECT finsec.register_signer('bank-a', pem) = spki_sha256 AS reregistered
  FROM finsec.signer WHERE name = 'bank-a-2090';
SELECT finsec.verify_signature('bank-a', 'sample',
  '\x3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');
SELECT name, cert_serial, revoked_by, revoke_reason FROM finsec.signer WHERE name = 'bank-a' ORDER BY id;
-- Every registration and revocation is in the ledger; failed ones are not
-- (their transaction rolled back).
SELECT db_user, object, action, success, detail->>'algorithm' AS algorithm, detail ? 'spki_sha256' AS fingerprint
  FROM finsec.audit WHERE event_type = 'signature.signer' ORDER BY finsec_seq;

-- ---------------------------------------------------------------------
-- Privileges: the application verifies but cannot register, revoke or
-- read the table; the auditor reads and verifies; an outsider does
-- nothing.
-- ---------------------------------------------------------------------
SET ROLE regress_sig_app;
SELECT finsec.register_signer('x', 'y');
SELECT finsec.revoke_signer('gbt32918-sm2', 'app');
SELECT count(*) FROM finsec.signer;
RESET ROLE;
SET ROLE regress_sig_auditor;
SELECT count(*) AS signers FROM finsec.signer;
SELECT component, ok FROM finsec.status_signature() ORDER BY component;
SELECT finsec.require_signature('rfc6979-p256', 'sample', '\x00');
RESET ROLE;
SET ROLE regress_sig_outsider;
SELECT finsec.verify_signature('rfc6979-p256', 'sample', '\x00');
SELECT finsec.verify_receipt('rfc6979-p256', '{}');
SELECT * FROM finsec.signature_self_test();
RESET ROLE;

-- ---------------------------------------------------------------------
-- The keyring's signing-key primitives: generate, import, sign and
-- verify with throw-away keys of every algorithm.
-- ---------------------------------------------------------------------
SELECT algorithm, ok FROM finsec.signature_self_test();
SET finsec.signature_min_rsa_bits = 3072;
SELECT algorithm, ok, detail LIKE 'skipped%' AS skipped FROM finsec.signature_self_test();
RESET finsec.signature_min_rsa_bits;

DROP ROLE regress_sig_admin, regress_sig_app, regress_sig_auditor, regress_sig_outsider;
