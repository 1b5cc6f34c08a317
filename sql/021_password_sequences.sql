--
-- 021_password_sequences: JR/T 0199 5.1b names "111111" and "123456" as
-- passwords too simple to allow.  A run of 6 or more consecutive digits,
-- letters or keyboard keys (ascending or descending, any case, shifted
-- symbols as their keys) is refused wherever it appears in the password,
-- not only as the whole password (docs/auth.md, A1b).  On 0.7 the first
-- three of these were accepted.
--
SET client_min_messages = warning;

-- The examples of the report: a sequence with a suffix or a prefix.
CREATE ROLE regress_seq LOGIN PASSWORD '123456Aa!';
CREATE ROLE regress_seq LOGIN PASSWORD '123456789Aa!';
CREATE ROLE regress_seq LOGIN PASSWORD 'Zz!123456';
CREATE ROLE regress_seq LOGIN PASSWORD 'Aa123456!';
-- Embedded in the middle, descending, letters, any case.
CREATE ROLE regress_seq LOGIN PASSWORD 'Xq#654321k';
CREATE ROLE regress_seq LOGIN PASSWORD 'Q7#abcdefZ';
CREATE ROLE regress_seq LOGIN PASSWORD 'Q7#ZYXWVUq';
-- Keyboard rows, forwards and backwards, in any case; shifted symbols
-- count as their keys ("!@#$%^" is 123456, "!2#4%6" too).
CREATE ROLE regress_seq LOGIN PASSWORD 'X9!QwErTy';
CREATE ROLE regress_seq LOGIN PASSWORD 'X9!LKJHGFz';
CREATE ROLE regress_seq LOGIN PASSWORD 'Mz7!@#$%^&';
CREATE ROLE regress_seq LOGIN PASSWORD 'Mz7k!2#4%6';
CREATE ROLE regress_seq LOGIN PASSWORD 'Mz7kZXCVBN';
CREATE ROLE regress_seq LOGIN PASSWORD 'Mz7k[poiuy';
CREATE ROLE regress_seq LOGIN PASSWORD 'Mz7k1qaz2w';
-- Repeated characters and the standard's own examples anywhere.
CREATE ROLE regress_seq LOGIN PASSWORD 'Kp#111111x';
CREATE ROLE regress_seq LOGIN PASSWORD 'Kp#0000qX9';
CREATE ROLE regress_seq LOGIN PASSWORD 'Kp#123123x';
CREATE ROLE regress_seq LOGIN PASSWORD 'Kp#112233x';
SELECT count(*) AS created FROM pg_roles WHERE rolname = 'regress_seq';

-- Boundary: a run of 5 is fine, 6 is refused (digits, letters, keys).
CREATE ROLE regress_seq5a LOGIN PASSWORD '12345Xq#m';
CREATE ROLE regress_seq6a LOGIN PASSWORD '123456Xq#m';
CREATE ROLE regress_seq5b LOGIN PASSWORD 'Jq#9abcdeJ';
CREATE ROLE regress_seq6b LOGIN PASSWORD 'Jq#9abcdefJ';
CREATE ROLE regress_seq5c LOGIN PASSWORD 'Jq#9Asdfg7';
CREATE ROLE regress_seq6c LOGIN PASSWORD 'Jq#9Asdfgh7';
CREATE ROLE regress_seq5d LOGIN PASSWORD 'Jq#9!@#$%k';
CREATE ROLE regress_seq6d LOGIN PASSWORD 'Jq#9!@#$%^k';
CREATE ROLE regress_seq5e LOGIN PASSWORD 'Jq#9aaa98765';
CREATE ROLE regress_seq6e LOGIN PASSWORD 'Jq#9a987654';
-- Two runs of 5 that touch without continuing are not one run of 6.
CREATE ROLE regress_seq5f LOGIN PASSWORD 'Jq#12345abcde';
SELECT rolname FROM pg_roles WHERE rolname LIKE 'regress\_seq%' ORDER BY 1;

-- Good passwords are still accepted.
CREATE ROLE regress_good1 LOGIN PASSWORD 'Gx7#mQ2v!Lp9';
CREATE ROLE regress_good2 LOGIN PASSWORD 'Tr4!n-Sk1es#2031';
CREATE ROLE regress_good3 LOGIN PASSWORD 'Plum&Kite+729';
SELECT count(*) AS good FROM pg_roles WHERE rolname LIKE 'regress\_good%';

DROP ROLE regress_seq5a, regress_seq5b, regress_seq5c, regress_seq5d,
	regress_seq5e, regress_seq5f, regress_good1, regress_good2, regress_good3;
