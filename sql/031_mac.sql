--
-- 031_mac: MAC algorithms against published test vectors, the payment MAC,
-- and one-time codes (docs/mac.md; M1, M2, M7).  Keys are imported with
-- the vectors' keys and approved by a second administrator (030_keyring
-- created the roles).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- import(label, purpose, algorithm, key): request as alice, approve as bob.
CREATE FUNCTION pg_temp.import(label text, purpose text, algorithm text, key bytea)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE r bigint;
BEGIN
	EXECUTE 'SET SESSION AUTHORIZATION regress_alice';
	r := finsec.key_import(label, purpose, algorithm, key);
	EXECUTE 'SET SESSION AUTHORIZATION regress_bob';
	PERFORM finsec.approve(r);
	EXECUTE 'RESET SESSION AUTHORIZATION';
	RETURN (SELECT kcv FROM finsec.key_inventory k WHERE k.label = import.label AND state = 'active');
END $$;

-- RFC 4231 (HMAC-SHA256) test cases 1, 3, 4, 5 (truncated to 128 bits) and 6.
SELECT pg_temp.import('rfc4231.1', 'mac', 'hmac-sha256', decode(repeat('0b', 20), 'hex'));
SELECT pg_temp.import('rfc4231.3', 'mac', 'hmac-sha256', decode(repeat('aa', 20), 'hex'));
SELECT pg_temp.import('rfc4231.4', 'mac', 'hmac-sha256', '\x0102030405060708090a0b0c0d0e0f10111213141516171819');
SELECT pg_temp.import('rfc4231.5', 'mac', 'hmac-sha256', decode(repeat('0c', 20), 'hex'));
SELECT pg_temp.import('rfc4231.6', 'mac', 'hmac-sha256', decode(repeat('aa', 131), 'hex'));
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac('rfc4231.1', 'hmac-sha256', convert_to('Hi There', 'UTF8'))
	 = '\xb0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' AS rfc4231_case1;
SELECT finsec.mac('rfc4231.3', 'hmac-sha256', decode(repeat('dd', 50), 'hex'))
	 = '\x773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe' AS rfc4231_case3;
SELECT finsec.mac('rfc4231.4', 'hmac-sha256', decode(repeat('cd', 50), 'hex'))
	 = '\x82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b' AS rfc4231_case4;
SELECT finsec.mac('rfc4231.5', 'hmac-sha256', convert_to('Test With Truncation', 'UTF8'), 16)
	 = '\xa3b6167473100ee06e0c796c2955552b' AS rfc4231_case5;
SELECT finsec.mac_verify('rfc4231.5', 'hmac-sha256', convert_to('Test With Truncation', 'UTF8'),
						 '\xa3b6167473100ee06e0c796c2955552b') AS rfc4231_case5_verify;
SELECT finsec.mac('rfc4231.6', 'hmac-sha256', convert_to('Test Using Larger Than Block-Size Key - Hash Key First', 'UTF8'))
	 = '\x60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54' AS rfc4231_case6;
RESET SESSION AUTHORIZATION;

-- RFC 4493 (AES-CMAC) examples 1 to 4; example 1 is the empty message.
SELECT pg_temp.import('rfc4493', 'mac', 'cmac-aes', '\x2b7e151628aed2a6abf7158809cf4f3c');
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac('rfc4493', 'cmac-aes', '') = '\xbb1d6929e95937287fa37d129b756746' AS rfc4493_example1;
SELECT finsec.mac('rfc4493', 'cmac-aes', '\x6bc1bee22e409f96e93d7e117393172a')
	 = '\x070a16b46b4d4144f79bdd9dd04a287c' AS rfc4493_example2;
SELECT finsec.mac('rfc4493', 'cmac-aes', '\x6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411')
	 = '\xdfa66747de9ae63030ca32611497c827' AS rfc4493_example3;
SELECT finsec.mac('rfc4493', 'cmac-aes', '\x6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710')
	 = '\x51f0bebf7e3b9d92fc49741779363cfe' AS rfc4493_example4;
RESET SESSION AUTHORIZATION;

-- SM4 (GB/T 32907-2016, appendix A example 1): key = plaintext =
-- 0123456789abcdeffedcba9876543210, ciphertext 681edf34d206965e86b3e94f536e4246.
-- ISO 9797-1 MAC algorithm 1 over one block with padding method 1 is the
-- encryption of that block, so this checks finsec's SM4 against the standard.
SELECT pg_temp.import('sm4.std', 'mac', 'iso9797-alg1-sm4', '\x0123456789abcdeffedcba9876543210');
SELECT pg_temp.import('sm4.cmac', 'mac', 'cmac-sm4', '\x0123456789abcdeffedcba9876543210');
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac('sm4.std', 'iso9797-alg1-sm4', '\x0123456789abcdeffedcba9876543210', padding => 1)
	 = '\x681edf34d206965e86b3e94f536e4246' AS sm4_standard_example;

-- CMAC-SM4 has no published vector; check it against its definition
-- (NIST SP 800-38B / RFC 4493) built from the SM4 block validated above:
-- L = E(0), K1 = dbl(L), K2 = dbl(K1); a complete last block is XORed with
-- K1, an incomplete one is padded 10* and XORed with K2.
CREATE FUNCTION pg_temp.dbl(b bytea) RETURNS bytea LANGUAGE sql AS $$
	SELECT decode(
		   (SELECT string_agg(lpad(to_hex(((get_byte(b, i) << 1) & 255)
									   | CASE WHEN i < 15 THEN get_byte(b, i + 1) >> 7 ELSE 0 END
									   # CASE WHEN i = 15 AND get_byte(b, 0) >= 128 THEN 135 ELSE 0 END), 2, '0'), '' ORDER BY i)
			  FROM generate_series(0, 15) i), 'hex')
$$;
CREATE FUNCTION pg_temp.xor16(a bytea, b bytea) RETURNS bytea LANGUAGE sql AS $$
	SELECT decode(string_agg(lpad(to_hex(get_byte(a, i) # get_byte(b, i)), 2, '0'), '' ORDER BY i), 'hex')
	  FROM generate_series(0, 15) i
$$;
CREATE FUNCTION pg_temp.sm4(block bytea) RETURNS bytea LANGUAGE sql AS $$
	SELECT finsec.mac('sm4.std', 'iso9797-alg1-sm4', block, padding => 1)
$$;
SELECT finsec.mac('sm4.cmac', 'cmac-sm4', '\x6bc1bee22e409f96e93d7e117393172a')
	 = pg_temp.sm4(pg_temp.xor16('\x6bc1bee22e409f96e93d7e117393172a', pg_temp.dbl(pg_temp.sm4(decode(repeat('00', 16), 'hex')))))
	 AS cmac_sm4_complete_block;
SELECT finsec.mac('sm4.cmac', 'cmac-sm4', '')
	 = pg_temp.sm4(pg_temp.xor16('\x80000000000000000000000000000000',
								 pg_temp.dbl(pg_temp.dbl(pg_temp.sm4(decode(repeat('00', 16), 'hex'))))))
	 AS cmac_sm4_empty_message;
RESET SESSION AUTHORIZATION;

-- ISO/IEC 9797-1:2011 annex B (MAC algorithm 3, padding method 1; the
-- ANSI X9.19 retail MAC): K = 0123456789ABCDEF, K' = FEDCBA9876543210,
-- data "Now is the time for all ", MAC A1C72E74EA3FA9B6.
SELECT pg_temp.import('iso9797.b', 'mac', 'iso9797-alg3', '\x0123456789abcdeffedcba9876543210');
SET SESSION AUTHORIZATION regress_app;
SELECT encode(finsec.mac('iso9797.b', 'iso9797-alg3', convert_to('Now is the time for all ', 'UTF8')), 'hex')
	AS iso9797_alg3_annex_b;
-- Truncated to 4 bytes, as card systems transmit it.
SELECT finsec.mac_verify('iso9797.b', 'iso9797-alg3', convert_to('Now is the time for all ', 'UTF8'), '\xa1c72e74');
SELECT finsec.mac_verify('iso9797.b', 'iso9797-alg3', convert_to('Now is the time for alL ', 'UTF8'), '\xa1c72e74');
-- Padding methods 2 and 3 by their definitions: method 2 appends 0x80 and
-- then pads like method 1; method 3 prefixes the length in bits.
SELECT finsec.mac('iso9797.b', 'iso9797-alg3', '\x01020304050607', padding => 2)
	 = finsec.mac('iso9797.b', 'iso9797-alg3', '\x0102030405060780', padding => 1) AS padding_method_2;
SELECT finsec.mac('iso9797.b', 'iso9797-alg3', '\x0102030405060708', padding => 2)
	 = finsec.mac('iso9797.b', 'iso9797-alg3', '\x010203040506070880', padding => 1) AS padding_method_2_full_block;
SELECT finsec.mac('iso9797.b', 'iso9797-alg3', '\x01020304050607', padding => 3)
	 = finsec.mac('iso9797.b', 'iso9797-alg3', '\x000000000000003801020304050607', padding => 1) AS padding_method_3;
-- Method 1 of the empty string is one zero block; method 3 is the length block alone.
SELECT finsec.mac('iso9797.b', 'iso9797-alg3', '')
	 = finsec.mac('iso9797.b', 'iso9797-alg3', '\x0000000000000000') AS empty_is_zero_block;
SELECT finsec.mac('iso9797.b', 'iso9797-alg3', '', padding => 3)
	 = finsec.mac('iso9797.b', 'iso9797-alg3', '\x0000000000000000', padding => 1) AS empty_method_3;
RESET SESSION AUTHORIZATION;

-- HMAC-SM3.  SM3 itself against GB/T 32905-2016 appendix A example 1
-- ("abc"), through pgcrypto; then finsec's HMAC-SM3 against HMAC built
-- by hand from that SM3 per RFC 2104: H((K xor opad) || H((K xor ipad) || m)).
SELECT digest('abc', 'sm3') = '\x66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0' AS sm3_standard_example;
SELECT pg_temp.import('sm3.key', 'mac', 'hmac-sm3', '\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
CREATE FUNCTION pg_temp.hmac_sm3(k bytea, m bytea) RETURNS bytea LANGUAGE sql AS $$
	WITH kp AS (SELECT k || decode(repeat('00', 64 - length(k)), 'hex') AS k)
	SELECT digest((SELECT decode(string_agg(lpad(to_hex(get_byte(kp.k, i) # 92), 2, '0'), '' ORDER BY i), 'hex')
					 FROM generate_series(0, 63) i)
				  || digest((SELECT decode(string_agg(lpad(to_hex(get_byte(kp.k, i) # 54), 2, '0'), '' ORDER BY i), 'hex')
							   FROM generate_series(0, 63) i) || m, 'sm3'), 'sm3')
	  FROM kp
$$;
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac('sm3.key', 'hmac-sm3', m) = pg_temp.hmac_sm3('\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', m)
	AS hmac_sm3_by_definition, length(m)
  FROM (VALUES (''::bytea), ('abc'), (decode(repeat('61', 64), 'hex')), (decode(repeat('61', 1000), 'hex'))) v(m);
RESET SESSION AUTHORIZATION;

-- Bad input.
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac('rfc4493', 'hmac-sha256', 'x');            -- the key is for cmac-aes
SELECT finsec.mac('otp', 'hmac-sha256', 'x');                -- a fingerprint key, not a MAC key
SELECT finsec.mac('no.such.key', 'hmac-sha256', 'x');
SELECT finsec.mac('rfc4493', 'cmac-des', 'x');
SELECT finsec.mac('rfc4493', 'cmac-aes', 'x', padding => 2); -- padding is for ISO 9797-1
SELECT finsec.mac('iso9797.b', 'iso9797-alg3', 'x', padding => 4);
SELECT finsec.mac('rfc4493', 'cmac-aes', 'x', 3);            -- shorter than finsec.mac_min_length
SELECT finsec.mac('rfc4493', 'cmac-aes', 'x', 17);           -- longer than the MAC
SELECT finsec.mac_verify('rfc4493', 'cmac-aes', 'x', '\x010203');
SELECT finsec.mac_verify('rfc4493', 'cmac-aes', 'x', decode(repeat('00', 17), 'hex'));
SELECT finsec.mac_verify('rfc4493', 'cmac-aes', 'x', '');
SELECT finsec.mac(NULL, 'cmac-aes', 'x');
SELECT finsec.mac('rfc4493', 'cmac-aes', NULL) IS NULL AS null_data_gives_null;
SELECT finsec.mac_verify('rfc4493', 'cmac-aes', 'x', NULL) IS NULL AS null_mac_gives_null;
SET finsec.mac_min_length = 2;                               -- only a superuser may lower it
RESET SESSION AUTHORIZATION;
-- MAC functions are parallel restricted: they run in the leader, which
-- counts their key use for the ledger at commit.
SET force_parallel_mode = on;
SELECT count(*) AS macs FROM generate_series(1, 100) i
 WHERE finsec.mac_verify('rfc4493', 'cmac-aes', int4send(i), finsec.mac('rfc4493', 'cmac-aes', int4send(i)));
RESET force_parallel_mode;

-- Huge data: 64 MB through HMAC-SHA256 agrees with pgcrypto's hmac(), and
-- a flipped last bit is caught.
SET SESSION AUTHORIZATION regress_app;
CREATE TEMP TABLE big AS SELECT decode(repeat('5a', 64 * 1024 * 1024), 'hex') AS b;
RESET SESSION AUTHORIZATION;
SELECT finsec.mac('rfc4231.1', 'hmac-sha256', b) = hmac(b, decode(repeat('0b', 20), 'hex'), 'sha256') AS huge_matches_pgcrypto,
	   finsec.mac_verify('rfc4231.1', 'hmac-sha256', b, finsec.mac('rfc4231.1', 'hmac-sha256', b)) AS huge_verifies,
	   finsec.mac_verify('rfc4231.1', 'hmac-sha256', set_byte(b, length(b) - 1, 91),
						 finsec.mac('rfc4231.1', 'hmac-sha256', b)) AS huge_tampered_verifies
  FROM big;
SELECT finsec.mac('iso9797.b', 'iso9797-alg3', b) = finsec.mac('iso9797.b', 'iso9797-alg3', b) AS huge_retail_mac_stable,
	   length(finsec.mac('sm4.std', 'iso9797-alg1-sm4', b)) AS cbc_mac_length
  FROM big;
DROP TABLE big;

-- Payment MAC (JR/T 0096.5 4.4.3): the canonical encoding of docs/mac.md.
SELECT encode(finsec.payment_mac_input('898110248160001', 'ORD-20261122-0001',
									   '2026-11-22 10:30:00+08', 100.50), 'hex') AS canonical;
-- Same amount, same bytes, however written; order time in any zone is the same instant.
SELECT finsec.payment_mac_input('m', 'o', '2026-11-22 02:30:00+00', 100.5)
	 = finsec.payment_mac_input('m', 'o', '2026-11-22 10:30:00+08', 100.500) AS canonical_equal,
	   finsec.payment_mac_input('m', 'o', '2026-11-22 02:30:00+00', 100.5)
	 = finsec.payment_mac_input('m', 'o', '2026-11-22 02:30:00+00', 100.5, 'cny') AS currency_case;
SELECT convert_from(substr(finsec.payment_mac_input('m', 'o', '2026-11-22 02:30:00.25+00', 0.00), 20, 21), 'UTF8') AS time_with_fraction;
-- Moving a character between fields changes the encoding (length prefixes).
SELECT finsec.payment_mac_input('ab', 'c', now(), 1) <> finsec.payment_mac_input('a', 'bc', now(), 1) AS fields_separated;
SET SESSION AUTHORIZATION regress_app;
SELECT encode(finsec.payment_mac('rfc4231.1', 'hmac-sha256', '898110248160001', 'ORD-20261122-0001',
								 '2026-11-22 10:30:00+08', 100.50), 'hex') AS worked_example_mac;
SELECT finsec.payment_mac_verify('rfc4231.1', 'hmac-sha256', '898110248160001', 'ORD-20261122-0001',
								 '2026-11-22 10:30:00+08', 100.5,
								 finsec.payment_mac('rfc4231.1', 'hmac-sha256', '898110248160001', 'ORD-20261122-0001',
													'2026-11-22 10:30:00+08', 100.50)) AS verifies;
SELECT finsec.payment_mac_verify('rfc4231.1', 'hmac-sha256', '898110248160001', 'ORD-20261122-0001',
								 '2026-11-22 10:30:00+08', 1005.0,
								 finsec.payment_mac('rfc4231.1', 'hmac-sha256', '898110248160001', 'ORD-20261122-0001',
													'2026-11-22 10:30:00+08', 100.50)) AS amount_changed_verifies;
SELECT finsec.payment_mac_verify('x919', 'iso9797-alg3', 'M1', 'O1', '2026-11-22 10:30:00+08', 5, mac, 'USD', '{terminal 7}')
  FROM (SELECT finsec.payment_mac('x919', 'iso9797-alg3', 'M1', 'O1', '2026-11-22 10:30:00+08', 5, 'USD', '{terminal 7}', 4) AS mac) s;
SELECT finsec.payment_mac('rfc4231.1', 'hmac-sha256', '', 'o', now(), 1);
SELECT finsec.payment_mac('rfc4231.1', 'hmac-sha256', 'm', 'o', now(), 'NaN');
SELECT finsec.payment_mac('rfc4231.1', 'hmac-sha256', 'm', 'o', 'infinity', 1);
SELECT finsec.payment_mac('rfc4231.1', 'hmac-sha256', 'm', 'o', now(), 1, 'RMB1');
SELECT finsec.payment_mac('rfc4231.1', 'hmac-sha256', 'm', NULL, now(), 1);
SELECT finsec.payment_mac('rfc4231.1', 'hmac-sha256', 'm', 'o', now(), 1, 'CNY', '{a,NULL}');
RESET SESSION AUTHORIZATION;

-- One-time codes (M7): server-generated, single use, short-lived, few attempts.
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.otp_issue('cust-1', 'login') AS code \gset
SELECT :'code' ~ '^[0-9]{6}$' AS six_digits;
SELECT finsec.otp_verify('cust-1', 'login', :'code') AS first_use;
SELECT finsec.otp_verify('cust-1', 'login', :'code') AS second_use;
-- A new code replaces the old one; wrong codes use up the attempts.
SELECT finsec.otp_issue('cust-1', 'pay', digits => 8) AS code \gset
SELECT finsec.otp_issue('cust-1', 'pay', digits => 8) AS code2 \gset
SELECT finsec.otp_verify('cust-1', 'pay', :'code') AND :'code' <> :'code2' AS replaced_code_still_works;
SELECT finsec.otp_verify('cust-1', 'pay', 'abc'), finsec.otp_verify('cust-1', 'pay', '00000000x'),
	   finsec.otp_verify('cust-1', 'pay', NULL), finsec.otp_verify('cust-1', 'other', :'code2');
SELECT finsec.otp_verify('cust-1', 'pay', CASE WHEN :'code2' = '11111111' THEN '22222222' ELSE '11111111' END) AS wrong,
	   finsec.otp_verify('cust-1', 'pay', CASE WHEN :'code2' = '11111111' THEN '22222222' ELSE '11111111' END) AS wrong,
	   finsec.otp_verify('cust-1', 'pay', CASE WHEN :'code2' = '11111111' THEN '22222222' ELSE '11111111' END) AS wrong;
SELECT finsec.otp_verify('cust-1', 'pay', :'code2') AS right_code_after_5_attempts;
-- Expired codes fail.
SELECT finsec.otp_issue('cust-2', 'login', '30 seconds') AS code \gset
RESET SESSION AUTHORIZATION;
UPDATE finsec.otp SET expires_at = now() - interval '1 second' WHERE subject = 'cust-2';
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.otp_verify('cust-2', 'login', :'code') AS expired_code;
SELECT finsec.otp_issue('cust-3', 'login', '1 hour');
SELECT finsec.otp_issue('cust-3', 'login', '0 seconds');
SELECT finsec.otp_issue('cust-3', 'login', digits => 4);
SELECT finsec.otp_issue('', 'login');
SELECT * FROM finsec.otp;
RESET SESSION AUTHORIZATION;
-- Only keyed hashes are stored.
SELECT subject, purpose, length(code_hash) AS hash_bytes, attempts, used_at IS NOT NULL AS used
  FROM finsec.otp ORDER BY subject, purpose;
SELECT event_type, object, action, success FROM finsec.audit WHERE event_type = 'otp.exhausted';
SELECT finsec.otp_purge('0 seconds') AS purged;
