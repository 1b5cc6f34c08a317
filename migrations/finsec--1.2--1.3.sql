/* finsec 1.2 -> 1.3 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.3'" to load this file. \quit

-- =====================================================================
-- Compliance self-check and reports (issue 19, docs/compliance.md): the
-- clause catalog of the four standards, finsec.compliance_check() that
-- inspects the live system clause by clause (and says cannot_verify,
-- never pass, where the caller cannot see), exclusions by two people,
-- the disaster-recovery level, the backup register, the reports and the
-- printable HTML report.  Requirements P1, U4, Q1, B1, B2, B3-B6 and the
-- check half of A1c, A4, A5, A6, A9-A14, A17, A18, D1, D13, C7, W8.
--
-- Calling convention of a check (section 2): a function
--	  f(args jsonb, OUT status text, OUT evidence jsonb)
-- registered in finsec.compliance_check_def, SECURITY INVOKER (it sees
-- what its caller sees), status one of pass, fail, warn, cannot_verify,
-- out_of_scope; finsec.compliance_check() turns manual clauses into
-- manual and excluded clauses into excluded itself.  A check that cannot
-- see what it must judge returns cannot_verify with evidence saying
-- what it could not read; an error inside a check is cannot_verify too.
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Catalog: finsec.clause, the checks, which clause each check answers
--    (with that clause's numbers), exclusions.
-- ---------------------------------------------------------------------

/*
 * The checks finsec knows: one function each (calling convention above).
 * builtin rows are finsec's; a customer may add checks of its own internal
 * controls (builtin false): the function must be owned by a superuser, or
 * compliance_check() reports the check as cannot_verify without calling it
 * (a function a non-superuser can redefine must never run under an
 * auditor's or a superuser's privileges).
 */
CREATE TABLE finsec.compliance_check_def (
	check_name	text PRIMARY KEY CHECK (check_name ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$'),
	function	regprocedure NOT NULL,
	title_zh	text NOT NULL,
	title_en	text NOT NULL,
	builtin		boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE finsec.compliance_check_def IS
	'the checks of finsec.compliance_check(): a function (args jsonb, OUT status text, OUT evidence jsonb) each; customer checks have builtin false';
REVOKE ALL ON TABLE finsec.compliance_check_def FROM PUBLIC;
GRANT SELECT ON TABLE finsec.compliance_check_def TO finsec_admin, finsec_auditor;

/*
 * The clause catalog: every clause of the four standards that a database
 * can enforce or check, and the organisational ones as manual.  Data, not
 * code: a customer adds its own internal controls (builtin false).
 */
CREATE TABLE finsec.clause (
	clause_id		text PRIMARY KEY CHECK (clause_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'),
	standard		text NOT NULL,			-- 'JR/T 0199-2020', 'JR/T 0096.5-2012', 'JR/T 0117-2014', 'PAY-FAC-V3.0', or the customer's own
	clause			text NOT NULL,			-- the standard's own clause number, e.g. '7.5.9 a'
	digest_ids		text[] NOT NULL DEFAULT '{}',	-- the requirement digest's ids (A1, D2, ...) that cite it
	title_zh		text NOT NULL,
	title_en		text NOT NULL,
	requirement_zh	text NOT NULL,
	requirement_en	text NOT NULL,
	kind			text NOT NULL CHECK (kind IN ('automated', 'manual')),
	level			text,					-- enhanced ('增强') or basic, where the standard grades it
	control			text NOT NULL,			-- the finsec control that answers it (docs page and object)
	remediation_zh	text NOT NULL,
	remediation_en	text NOT NULL,
	refs			text,					-- further references (other standards' clauses, docs)
	builtin			boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE finsec.clause IS
	'clause catalog of the four standards (and the customer''s own controls, builtin false): requirement and remediation in Chinese and English, automated or manual, the finsec control';
REVOKE ALL ON TABLE finsec.clause FROM PUBLIC;
GRANT SELECT ON TABLE finsec.clause TO finsec_admin, finsec_auditor;

/* Which checks answer a clause, with that clause's own numbers (args). */
CREATE TABLE finsec.clause_check (
	clause_id	text NOT NULL REFERENCES finsec.clause ON UPDATE CASCADE ON DELETE CASCADE,
	check_name	text NOT NULL REFERENCES finsec.compliance_check_def ON UPDATE CASCADE,
	args		jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(args) = 'object'),
	builtin		boolean NOT NULL DEFAULT false,
	PRIMARY KEY (clause_id, check_name)
);
COMMENT ON TABLE finsec.clause_check IS
	'the checks that verify each clause, with the clause''s thresholds as args';
REVOKE ALL ON TABLE finsec.clause_check FROM PUBLIC;
GRANT SELECT ON TABLE finsec.clause_check TO finsec_admin, finsec_auditor;

-- (end of section 1)



-- ---------------------------------------------------------------------
-- 1b. The catalog's rows: the four standards, clause by clause (clause
--     ids '<seed>:<clause>', e.g. '004:7.5.9a', '004:8.3.4b-enh').
--     Sections 3 and 4 map their checks onto these rows.
-- ---------------------------------------------------------------------

INSERT INTO finsec.clause (clause_id, standard, clause, digest_ids, title_zh, title_en, requirement_zh, requirement_en, kind, level, control, remediation_zh, remediation_en, refs, builtin) VALUES
('001:5.1a', 'JR/T 0199-2020', '5.1 a', '{}',
	'交易验证', 'Transaction verification',
	'交易验证可以组合选用下列3类要素：仅客户本人知悉的要素；仅客户持有并特有的，不可复制或不可重复利用的要素；客户本人生物特征要素。',
	'Transaction verification may combine three kinds of factors: known only to the customer, held only by the customer (not copyable or reusable), the customer''s biometrics.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“交易验证”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Transaction verification.', NULL, true),
('001:5.1b', 'JR/T 0199-2020', '5.1 b', '{A1b,M7,L1,A8}',
	'交易验证', 'Transaction verification',
	'交易验证要素的使用，应满足以下要求：应确保采用的要素相互独立，即部分要素的损坏或者泄露不应导致其他要素损坏或者泄露；应严格限制使用初始交易密码并提示客户及时修改，建立交易密码复杂度校验机制，避免交易密码过于简单（如“111111”、“123456”等）或与个人金融信息（如出生日期、证件号码、手机号码等）相似度过高；采用数字证书、电子签名作为认证要素的，数字证书及生成电子签名的过程应符合相关法律法规、JR/T 0118-2015等有关规定，确保数字证书的唯一性、完整性及交易的抗抵赖性；采用一次性密码作为验证要素的，应切实防范一次性密码获取端与交易指令发起端为相同物理设备而带来的风险，并将一次性密码有效期严格限制在最短的必要时间内……',
	'Reject trivially simple passwords (111111, 123456, repeats, keyboard/numeric sequences) and passwords close to personal data (birth date, ID number, phone). One-time passwords/verification codes: server-generated, shortest validity, single use. Single-transaction limit; daily cumulative limit; limits by authentication method; verification strength matched to amount. Initial passwords must be changed at first use.',
	'automated', NULL, 'auth: weak-password and personal-data rejection, finsec.set_role_profile() (docs/auth.md); finsec.otp_issue() / otp_verify() (docs/mac.md); limits: finsec.limit_trigger, request_limit_policy() (docs/limits.md); not enforced by finsec 1.3 (docs/auth.md): an administrator procedure; finsec.password_valid_until gives every password an expiry',
	'加载 finsec 认证钩子；用 finsec.set_role_profile() 登记各角色的出生日期、证件号、手机号，使口令不能与之相近。一次性密码用 finsec.otp_issue() 由服务器生成，设置最短有效期，finsec.otp_verify() 保证单次使用。在交易表上启用 finsec.enable_limits()，以 finsec.request_limit_policy() 设置单笔、当日累计及按认证方式的限额。管理员设置初始口令时设置很短的 VALID UNTIL，并要求本人首次登录后立即以 ALTER ROLE ... PASSWORD 修改；留存账户开通记录作为证据。',
	'Load the finsec authentication hook; record each role''s birth date, ID and phone with finsec.set_role_profile() so passwords close to them are refused. One-time passwords come from finsec.otp_issue() with the shortest validity; finsec.otp_verify() makes them single use. Enable finsec.enable_limits() on the transactions table and set single, daily cumulative and per-authentication-method limits with finsec.request_limit_policy(). When an administrator sets an initial password, give it a short VALID UNTIL and have the owner change it at first login with ALTER ROLE ... PASSWORD; keep the account-opening records as evidence.', NULL, true),
('001:5.2a', 'JR/T 0199-2020', '5.2 a', '{}',
	'交易确认', 'Transaction confirmation',
	'应采取有效措施，确保客户在执行交易指令前可对交易内容、交易金额等交易信息进行确认，并在交易指令完成后展现交易信息或及时将结果通知客户。',
	'The customer can confirm the transaction content and amount before executing it, and sees or is notified of the result.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“交易确认”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Transaction confirmation.', NULL, true),
('001:5.2b', 'JR/T 0199-2020', '5.2 b', '{L4}',
	'交易确认', 'Transaction confirmation',
	'应确保交易信息的真实性、完整性、可追溯性以及交易全流程中的一致性，不得篡改或者隐匿交易信息。',
	'Transaction information true, complete, traceable, consistent; never altered or hidden.',
	'automated', NULL, 'posted rows immutable (finsec.protect_table(), ledger_immutable; docs/audit.md); compliance check posted_tables_protected',
	'对已记账交易表执行 finsec.protect_table()，更正只通过冲正进行。',
	'Run finsec.protect_table() on posted transaction tables; corrections only by reversal.', NULL, true),
('001:5.2c', 'JR/T 0199-2020', '5.2 c', '{}',
	'交易确认', 'Transaction confirmation',
	'应采用静态密码、动态口令、数字证书等可靠的技术手段实现本人主动确认，保障用户的知情权、财产安全权等合法权益。',
	'Active confirmation by the customer with reliable means (static password, dynamic password, certificate).',
	'manual', NULL, 'finsec.otp_issue() / otp_verify() (docs/mac.md)',
	'一次性密码用 finsec.otp_issue() 由服务器生成，设置最短有效期，finsec.otp_verify() 保证单次使用。',
	'One-time passwords come from finsec.otp_issue() with the shortest validity; finsec.otp_verify() makes them single use.', 'related requirement digest ids: M7', true),
('001:5.3.1', 'JR/T 0199-2020', '5.3.1', '{R1}',
	'交易监控系统建立', 'Transaction monitoring system',
	'金融科技创新机构应建立有效的交易监控系统，满足以下要求：a) 应建立交易监控系统，能够甄别并预警潜在风险的交易，并生成风险监控报告。b) 应根据交易的风险特征建立风险交易模型，有效监测可疑交易，对可疑交易建立报告、复核、查结机制。c) 应采用大数据分析、客户行为建模等手段，建立交易风险监控模型和系统，对异常交易进行及时预警，并采取调查核实、风险提示、延迟结算等处理措施。d) 应通过交易行为分析、机器学习等不断优化风险评估模型，提高欺诈交易拦截成功率，降低误判率，切实提升交易安全防护能力。',
	'Risk model identifies and warns on suspicious transactions; report, review and closure of suspicious cases.',
	'manual', NULL, 'risk scoring finsec.risk_score() and cases (docs/risk.md)',
	'启用 finsec.enable_risk() 进行风险评分，可疑交易开立案件并复核、结案。',
	'Enable risk scoring with finsec.enable_risk(); open cases for suspicious transactions, review and close them.', NULL, true),
('001:5.3.2', 'JR/T 0199-2020', '5.3.2', '{R2}',
	'交易风险识别', 'Transaction risk identification',
	'金融科技创新机构应支持欺诈风险和合规风险的识别。a) 欺诈风险指不法分子利用虚假申请、伪造或变造、盗用账户等手段盗取交易资金的风险，是非用户本人意愿发起的交易，或者不法分子勾结用户通过虚构交易等方式造成金融机构资金、权益等方面损失的风险，包括但不限于：非面欺诈，指欺诈分子窃取或骗取账号、PIN、有效期、短信验证码及其他关键身份验证信息后，通过邮购/电购、互联网、手机等非面对面渠道进行欺诈冒用；账户盗用，指欺诈分子冒充真实账户所有人的身份，通过修改账单地址、虚假挂失等一系列手段获取重制账户信息进行的欺诈交易；伪冒申请，指使用虚假身份或冒用他人身份开立账户完成欺诈交易……',
	'Fraud types (card-not-present, account takeover, false application, merchant collusion, marketing fraud) and compliance types (money laundering, telecom fraud, illegal fundraising, terminal relocation).',
	'manual', NULL, 'risk reason codes mapped to fraud and compliance categories (docs/risk.md)',
	'风险规则的原因代码映射到欺诈与合规风险类别。',
	'Map risk rules'' reason codes to the fraud and compliance categories.', NULL, true),
('001:5.3.2a', 'JR/T 0199-2020', '5.3.2 a', '{}',
	'交易风险识别', 'Transaction risk identification',
	'欺诈风险指不法分子利用虚假申请、伪造或变造、盗用账户等手段盗取交易资金的风险，是非用户本人意愿发起的交易，或者不法分子勾结用户通过虚构交易等方式造成金融机构资金、权益等方面损失的风险，包括但不限于：非面欺诈，指欺诈分子窃取或骗取账号、PIN、有效期、短信验证码及其他关键身份验证信息后，通过邮购/电购、互联网、手机等非面对面渠道进行欺诈冒用；账户盗用，指欺诈分子冒充真实账户所有人的身份，通过修改账单地址、虚假挂失等一系列手段获取重制账户信息进行的欺诈交易；伪冒申请，指使用虚假身份或冒用他人身份开立账户完成欺诈交易；商户合谋，指特约商户在受理交易时，违规操作、蓄意进行欺诈交易或纵容、包庇、协助账户所有人开展欺诈交易的行为……',
	'Fraud risks (false applications, forged or stolen accounts, card-not-present fraud, account takeover, collusion, marketing fraud) are identified.',
	'manual', NULL, 'risk reason codes mapped to fraud and compliance categories (docs/risk.md)',
	'风险规则的原因代码映射到欺诈与合规风险类别。',
	'Map risk rules'' reason codes to the fraud and compliance categories.', 'related requirement digest ids: R2', true),
('001:5.3.2b', 'JR/T 0199-2020', '5.3.2 b', '{R9}',
	'交易风险识别', 'Transaction risk identification',
	'合规风险指虽然是用户本人意愿发起的交易，但该交易行为违反国家法律法规和监管要求，属于禁止的或不当的交易行为，包括但不限于：洗钱风险，指将通过各种手段掩饰违法所得，隐瞒违法来源，使其在形式上合法化，常见于毒品犯罪、黑社会性质的组织犯罪、恐怖活动犯罪、走私犯罪、贪污贿赂犯罪、破坏金融管理秩序犯罪、金融诈骗犯罪等各类违法犯罪过程；电信诈骗，指不法分子通过电话、网络和短信方式，编造虚假信息，设置骗局，对受害人实施远程、非接触式诈骗，诱使受害人本人给不法分子汇款、转账、购物或代付等的犯罪行为，从而给受害人造成资金和权益方面的损失……',
	'Merchant qualification review; terminal relocation detection.',
	'manual', NULL, 'merchant status, device location rules (docs/risk.md)',
	'建立商户资质审核记录，设置终端移机检测规则。',
	'Keep merchant qualification review records and set terminal relocation rules.', NULL, true),
('001:5.3.3a', 'JR/T 0199-2020', '5.3.3 a', '{R3}',
	'交易风险处置', 'Transaction risk handling',
	'风险核查指基于风险评估和决策输出的结果，对于已识别存有风险的业务进行调查，分析原因与风险特征，以确认当时的决策是否准确恰当，包括但不限于以下方式开展：对于拦截阻断的交易：应配套后续调查流程完善防控手段；宜与业务方进行确认，判断拦截阻断的准确性；经调查拦截无误的，相关信息可纳入黑灰名单和负面样本，作为后续优化事中监测依据；经调查拦截不准确的，宜恢复交易权限，及时调整事中监测策略。对于挂起确认和提示预警的交易：应配套调查处置流程，并借鉴简化后续类似情况下的处理流程；可事后统计分析存在的可疑点，集中与业务方沟通确认，回溯挂起确认和提示预警的必要性与准确性，并判断下一次类似条件的业务风险处理方式。',
	'Handling: blocked transactions confirmed go to black/grey lists and negative samples; wrong blocks restored and rules tuned.',
	'manual', NULL, 'case outcomes feed black/grey lists (docs/risk.md)',
	'经确认的拦截交易纳入黑灰名单（finsec.risk_list_add()），误拦截恢复并调整规则。',
	'Confirmed blocks go to black/grey lists (finsec.risk_list_add()); wrong blocks are restored and rules tuned.', NULL, true),
('001:5.3.3b', 'JR/T 0199-2020', '5.3.3 b', '{R4}',
	'交易风险处置', 'Transaction risk handling',
	'关联排查指对于存有风险的业务相关元素，基于潜在关系进行关联分析，以挖掘是否存在同类风险或衍生风险，弥补事中监测决策可能未识别的潜在风险敞口，关联排查包括但不限于以下方式开展：应对存在风险交易的同账户关联交易进行分析。应对存在信息泄露风险的用户在一段时间内有交易的账户进行分析。宜对存在虚假申请风险的账户关联的设备信息进行分析。宜对存在风险交易的账户或者所属用户的位置信息进行分析。宜对存在风险交易的手机号码进行分析，包括验证手机号码、注册手机号码等。',
	'Link analysis across account, device, IP, location, phone; gang detection.',
	'manual', NULL, 'finsec.linked_entities() (docs/risk.md)',
	'用 finsec.linked_entities() 做账户、设备、IP、位置、手机号的关联排查。',
	'Use finsec.linked_entities() for link analysis across account, device, IP, location and phone.', NULL, true),
('001:5.3.3c', 'JR/T 0199-2020', '5.3.3 c', '{L2,L6}',
	'交易风险处置', 'Transaction risk handling',
	'案件协查主要是指配合公安、司法机关开展的风险案件协查，包括但不限于以下方式开展：应对公安、司法机关提供必要的交易明细。应对公安、司法机关提供必要的用户开户获批的相关信息。应根据公安、司法机关的指令冻结账户和资金。宜对公安、司法机关提供已采集的交易信息、账户信息以外的风险案件行为特征，例如IP、MAC 等。',
	'Account states normal / frozen / closed; freeze and unfreeze; frozen accounts cannot transact; freeze on law-enforcement order. Transaction details provided to police/courts; accounts and funds frozen (amounts, not only accounts).',
	'manual', NULL, 'account states: finsec.set_account_state(), freeze_account(), unfreeze_account(), close_account() (docs/limits.md); risk case export; partial freeze finsec.freeze_account(amount) (docs/risk.md, docs/limits.md)',
	'账户状态由 finsec.set_account_state()/freeze_account() 维护，冻结或注销的账户交易被拒绝。配合公安司法机关：导出案件交易明细，按指令冻结账户或金额（finsec.freeze_account()）。',
	'Maintain account states with finsec.set_account_state() / freeze_account(); frozen or closed accounts cannot transact. For police and courts: export the case''s transactions and freeze accounts or amounts on order (finsec.freeze_account()).', NULL, true),
('001:5.3.3d', 'JR/T 0199-2020', '5.3.3 d', '{L3}',
	'交易风险处置', 'Transaction risk handling',
	'损失处置主要指对于明确产生的风险损失，通过快速挽损、风险责任认定，将风险化解、转移或者赔偿的处置方式，并控制后续风险损失敞口，可采取的主要方法包括但不限于：延迟结算：采取结算资金延迟到账方式挽回损失。货物拦截：针对互联网渠道实物类商品销售付款与收货存在较长时间的特性，在风险识别后及时控制在途货物，采取退款措施，控制风险损失敞口。追偿结算：通过事后损失追偿，转移化解已有风险损失。限制功能：针对识别的具有高风险特征的交易行为，对相关资金账户、商户终端采取限制交易权限措施。关闭通道：关闭交易通道，防范新增损失。保险赔付：通过事先投保、事后理赔方式，分散化解风险损失。……',
	'Loss controls: restrict functions, close a channel, delay settlement.',
	'manual', NULL, 'finsec.set_channel(), settlement hold (docs/limits.md)',
	'风险损失发生时用 finsec.set_channel() 关闭渠道、限制功能或延迟结算。',
	'On a loss, close a channel, restrict functions or delay settlement with finsec.set_channel().', NULL, true),
('001:6a', 'JR/T 0199-2020', '6 a', '{}',
	'服务质量', 'Quality of service',
	'应建立服务质量管理规范，包括 QoS 预测、QoS 建立、QoS 监控、QoS 维护等过程管理。',
	'A QoS management procedure covers QoS prediction, establishment, monitoring and maintenance.',
	'manual', NULL, 'monitor QoS rules (docs/monitor.md)',
	'配置服务质量监控规则，在低于最低可接受水平时告警。',
	'Configure QoS monitoring rules that warn below the lowest acceptable level.', 'related requirement digest ids: W2', true),
('001:6b', 'JR/T 0199-2020', '6 b', '{}',
	'服务质量', 'Quality of service',
	'应通过对创新应用的业务功能、预期用户数、服务地域、服务时间等特性进行充分分析，从服务可用性、吞吐量、时间延迟等方面预测 QoS。',
	'QoS (availability, throughput, latency) is predicted from the functions, expected users, regions and service hours.',
	'manual', NULL, 'monitor QoS rules (docs/monitor.md)',
	'配置服务质量监控规则，在低于最低可接受水平时告警。',
	'Configure QoS monitoring rules that warn below the lowest acceptable level.', 'related requirement digest ids: W2', true),
('001:6c', 'JR/T 0199-2020', '6 c', '{}',
	'服务质量', 'Quality of service',
	'应以满足用户或相关方的业务期望为基础，根据具体资源情况建立 QoS 目标，设置可接受最低质量（LQA）极限。',
	'QoS targets and the lowest acceptable quality (LQA) are set from the users'' business expectations.',
	'manual', NULL, 'monitor QoS rules (docs/monitor.md)',
	'配置服务质量监控规则，在低于最低可接受水平时告警。',
	'Configure QoS monitoring rules that warn below the lowest acceptable level.', 'related requirement digest ids: W2', true),
('001:6d', 'JR/T 0199-2020', '6 d', '{W2}',
	'服务质量', 'Quality of service',
	'应对通信线路、网络设备、主机设备、应用软件的运行情况进行 QoS 监控，检查服务可用性、吞吐量、时间延迟等是否满足 QoS 目标，对系统的服务水平低于 LQA 时进行预警。',
	'Service quality below the lowest acceptable level raises a warning; service-level degradation detected.',
	'manual', NULL, 'monitor QoS rules (docs/monitor.md)',
	'配置服务质量监控规则，在低于最低可接受水平时告警。',
	'Configure QoS monitoring rules that warn below the lowest acceptable level.', NULL, true),
('001:6e', 'JR/T 0199-2020', '6 e', '{}',
	'服务质量', 'Quality of service',
	'应在可接受的级别上为满足 QoS 进行资源分配。',
	'Resources are allocated to meet QoS at an acceptable level.',
	'manual', NULL, 'monitor QoS rules (docs/monitor.md)',
	'配置服务质量监控规则，在低于最低可接受水平时告警。',
	'Configure QoS monitoring rules that warn below the lowest acceptable level.', 'related requirement digest ids: W2', true),
('001:7.1', 'JR/T 0199-2020', '7.1', '{}',
	'业务影响分析', 'Business impact analysis',
	'金融科技创新机构应根据业务连续性目标和业务发展规划，对金融科技产品及其服务模式进行详细的业务影响分析，满足以下要求：a) 应根据当前的业务场景，使用恰当的分析方法，对所面临的威胁和当前体系的脆弱性进行深入剖析，评估各类风险发生的概率和可能导致的损失。b) 应对风险可能造成的业务影响进行研判。c) 应根据监管要求、业务性质、业务服务范围、数据集中程度、业务时间敏感性、功能关联性等要素进行业务功能分析，并在此基础上评估业务中断可能造成的影响，确定灾难恢复目标及恢复优先级。',
	'A business impact analysis assesses threats, vulnerabilities, the probability of risks and their business impact.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务影响分析”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business impact analysis.', NULL, true),
('001:7.2a', 'JR/T 0199-2020', '7.2 a', '{}',
	'业务连续性管理', 'Business continuity management',
	'应制定业务连续性策略及计划。',
	'A business continuity strategy and plan exist.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务连续性管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business continuity management.', NULL, true),
('001:7.2b', 'JR/T 0199-2020', '7.2 b', '{}',
	'业务连续性管理', 'Business continuity management',
	'应从应用和数据等技术方面确保业务连续性，避免单点故障。',
	'Business continuity is ensured technically for applications and data, without single points of failure.',
	'automated', NULL, 'compliance check standby_present',
	'部署至少一个流复制热备库（primary_conninfo），并确认其出现在 pg_stat_replication。',
	'Run at least one streaming hot standby (primary_conninfo) and check it appears in pg_stat_replication.', 'related requirement digest ids: B3', true),
('001:7.2c', 'JR/T 0199-2020', '7.2 c', '{}',
	'业务连续性管理', 'Business continuity management',
	'应将业务连续性管理整合到组织的流程和架构中，明确指定相关部门负责业务连续性的管理。',
	'Business continuity management is part of the organisation''s processes, with a responsible department.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务连续性管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business continuity management.', NULL, true),
('001:7.2d', 'JR/T 0199-2020', '7.2 d', '{}',
	'业务连续性管理', 'Business continuity management',
	'应制定员工在业务连续性方面的培训计划和考核标准。',
	'Staff have a business continuity training plan and assessment criteria.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务连续性管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business continuity management.', NULL, true),
('001:7.2e', 'JR/T 0199-2020', '7.2 e', '{}',
	'业务连续性管理', 'Business continuity management',
	'应定期或在业务系统发生显著变化时，测试并更新业务连续性计划与过程，以确保其持续有效。',
	'The continuity plan is tested and updated regularly and on significant change.',
	'manual', NULL, 'finsec.record_switchover_drill(); compliance check switchover_drilled',
	'每年至少一次备份系统与生产系统切换演练，并以 finsec.record_switchover_drill() 记录。',
	'Drill the switchover between backup and production at least yearly and record it with finsec.record_switchover_drill().', 'related requirement digest ids: B5', true),
('001:7.2f', 'JR/T 0199-2020', '7.2 f', '{}',
	'业务连续性管理', 'Business continuity management',
	'应至少每年组织 1 次业务连续性专项内部审计或委托第三方进行的审计，并形成包括审计意见、改进计划和改进结果的审计报告。',
	'At least yearly an internal or third-party business continuity audit with findings, improvement plan and results.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务连续性管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business continuity management.', NULL, true),
('001:7.2g', 'JR/T 0199-2020', '7.2 g', '{B1}',
	'业务连续性管理', 'Business continuity management',
	'使用的科技产品应至少支持容灾能力 3 级要求，容灾等级划分及关键指标要求参见附录。',
	'Disaster-recovery levels with RTO/RPO/availability (level 3: 24h/24h/99%; 4: 4h/1h/99.9%; 5: 30min/~0/99.99%; 6: 2min/0/99.999%); products support at least level 3.',
	'automated', NULL, 'finsec.dr_level(); compliance check dr_level against finsec.dr_target_level (docs/compliance.md)',
	'按目标容灾等级配置归档、备份、备库与故障切换工具（设置 finsec.dr_target_level、finsec.dr_failover_tool），运行 SELECT * FROM finsec.dr_level() 查看缺项。',
	'Configure archiving, backups, standbys and failover tooling for the target level (finsec.dr_target_level, finsec.dr_failover_tool); SELECT * FROM finsec.dr_level() lists what is missing.', NULL, true),
('001:7.3a', 'JR/T 0199-2020', '7.3 a', '{}',
	'业务连续性资源配置', 'Business continuity resources',
	'应避免机房采用的多路市电输入均来自于同 1 个变电站，应对 UPS 等重要设备的报警日志进行及时审核和处理。',
	'Power feeds do not all come from one substation; UPS alarm logs are reviewed and handled.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务连续性资源配置”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business continuity resources.', NULL, true),
('001:7.3b', 'JR/T 0199-2020', '7.3 b', '{}',
	'业务连续性资源配置', 'Business continuity resources',
	'应提供冗余通信线路，并选择与主用通信线路不同的电信运营商和不同的物理路径。',
	'Redundant communication lines from a different carrier and physical path.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务连续性资源配置”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business continuity resources.', NULL, true),
('001:7.3c', 'JR/T 0199-2020', '7.3 c', '{}',
	'业务连续性资源配置', 'Business continuity resources',
	'核心层、汇聚层的设备和重要的接入层设备均应双机热备或多机集群，例如，核心交换机、服务器群接入交换机、重要业务管理终端接入交换机、核心路由器、防火墙、均衡负载器、带宽管理器及其他相关重要设备。',
	'Core, aggregation and important access network devices are in hot standby or clusters.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务连续性资源配置”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business continuity resources.', NULL, true),
('001:7.3d', 'JR/T 0199-2020', '7.3 d', '{B3}',
	'业务连续性资源配置', 'Business continuity resources',
	'Web 服务器、中间件服务器、前置服务器、数据库服务器等关键数据处理系统均应双机热备或多机集群，并设置磁盘冗余阵列或分布式多副本存储技术，以避免单一部件故障影响设备运行的风险。',
	'Database servers in hot standby or cluster.',
	'automated', NULL, 'compliance check standby_present',
	'部署至少一个流复制热备库（primary_conninfo），并确认其出现在 pg_stat_replication。',
	'Run at least one streaming hot standby (primary_conninfo) and check it appears in pg_stat_replication.', NULL, true),
('001:7.3e', 'JR/T 0199-2020', '7.3 e', '{}',
	'业务连续性资源配置', 'Business continuity resources',
	'应梳理并维护关键的设备部件、备件清单，采取有效的措施防止因单个设备部件出现故障，导致冗余设备无法正常启用或切换的风险。',
	'A list of key device parts and spares is kept so that one part''s failure cannot stop the redundant device.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务连续性资源配置”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business continuity resources.', NULL, true),
('001:7.4a', 'JR/T 0199-2020', '7.4 a', '{}',
	'备份与恢复管理', 'Backup and recovery management',
	'应根据系统的业务影响性分析结果，制定不同数据的备份策略，并实施应用级备份，以保证灾难发生时，能尽快恢复业务运营。',
	'Backup strategies per data from the business impact analysis, with application-level backups for quick recovery.',
	'manual', NULL, 'backup register: finsec.record_backup(), record_restore_test(); compliance checks backup_schedule, restore_tested',
	'登记每次备份及保存期，每季度做一次恢复测试并以 finsec.record_restore_test() 记录。',
	'Record each backup with its retention, test a restore every quarter and record it with finsec.record_restore_test().', 'related requirement digest ids: B4', true),
('001:7.4b', 'JR/T 0199-2020', '7.4 b', '{B4}',
	'备份与恢复管理', 'Backup and recovery management',
	'应建立控制数据备份和恢复过程的程序，对备份过程进行记录，所有文件和记录应妥善保存，明确规定备份数据的保存期，做好备份数据的销毁申请、审查和登记工作。',
	'Backups recorded with retention; restore tested every quarter.',
	'automated', NULL, 'backup register: finsec.record_backup(), record_restore_test(); compliance checks backup_schedule, restore_tested',
	'登记每次备份及保存期，每季度做一次恢复测试并以 finsec.record_restore_test() 记录。',
	'Record each backup with its retention, test a restore every quarter and record it with finsec.record_restore_test().', NULL, true),
('001:7.4c', 'JR/T 0199-2020', '7.4 c', '{B4}',
	'备份与恢复管理', 'Backup and recovery management',
	'应定期执行恢复程序，检查并测试备份介质的有效性，确保可以在恢复程序规定的时间内完成备份恢复。',
	'Backups recorded with retention; restore tested every quarter.',
	'automated', NULL, 'backup register: finsec.record_backup(), record_restore_test(); compliance checks backup_schedule, restore_tested',
	'登记每次备份及保存期，每季度做一次恢复测试并以 finsec.record_restore_test() 记录。',
	'Record each backup with its retention, test a restore every quarter and record it with finsec.record_restore_test().', NULL, true),
('001:7.4d', 'JR/T 0199-2020', '7.4 d', '{}',
	'备份与恢复管理', 'Backup and recovery management',
	'应对技术方案中关键技术应用的可行性进行验证测试，并记录和保存验证测试的结果，以满足灾难恢复策略的要求。',
	'The feasibility of the key techniques of the recovery design is tested and the results kept.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“备份与恢复管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Backup and recovery management.', NULL, true),
('001:7.4e', 'JR/T 0199-2020', '7.4 e', '{}',
	'备份与恢复管理', 'Backup and recovery management',
	'应在统一的灾难恢复策略下建立完善的系统灾难恢复体系，开展灾难恢复需求分析、策略及计划制定、灾备系统建设及演练等工作，并根据实际情况对其进行分析和改进，确保各环节的正确性以及灾难恢复体系的有效性。',
	'A complete disaster recovery system under one strategy: requirements, plans, standby systems and drills, improved over time.',
	'manual', NULL, 'finsec.dr_level(); compliance check dr_level against finsec.dr_target_level (docs/compliance.md)',
	'按目标容灾等级配置归档、备份、备库与故障切换工具（设置 finsec.dr_target_level、finsec.dr_failover_tool），运行 SELECT * FROM finsec.dr_level() 查看缺项。',
	'Configure archiving, backups, standbys and failover tooling for the target level (finsec.dr_target_level, finsec.dr_failover_tool); SELECT * FROM finsec.dr_level() lists what is missing.', 'related requirement digest ids: B1', true),
('001:7.4f', 'JR/T 0199-2020', '7.4 f', '{}',
	'备份与恢复管理', 'Backup and recovery management',
	'同城数据备份中心应保证可以接管所有核心业务的运行，与生产中心直线距离应满足 JR/T 0071 相关安全技术要求。',
	'The same-city backup centre can take over all core business; its distance from production meets JR/T 0071.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“备份与恢复管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Backup and recovery management.', NULL, true),
('001:7.4g', 'JR/T 0199-2020', '7.4 g', '{}',
	'备份与恢复管理', 'Backup and recovery management',
	'异地数据备份中心与生产中心直线距离应满足 JR/T 0071 相关安全技术要求。',
	'The remote backup centre''s distance from production meets JR/T 0071.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“备份与恢复管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Backup and recovery management.', NULL, true),
('001:7.4h', 'JR/T 0199-2020', '7.4 h', '{W5}',
	'备份与恢复管理', 'Backup and recovery management',
	'应实时监控生产中心和灾备中心的业务应用可用性和性能状态，并具备告警功能。',
	'Availability and replication (DR sync) status monitored with alarms.',
	'automated', NULL, 'compliance checks standby_present, wal_archiving; finsec.dr_level() (docs/compliance.md)',
	'监控复制延迟与同步状态（pg_stat_replication），并为延迟超过 RPO 设置告警。',
	'Monitor replication lag and sync state (pg_stat_replication) and alert when lag exceeds the RPO.', NULL, true),
('001:7.4i', 'JR/T 0199-2020', '7.4 i', '{W5}',
	'备份与恢复管理', 'Backup and recovery management',
	'应能够有效监控灾备切换过程和同步状态。',
	'Availability and replication (DR sync) status monitored with alarms.',
	'automated', NULL, 'compliance checks standby_present, wal_archiving; finsec.dr_level() (docs/compliance.md)',
	'监控复制延迟与同步状态（pg_stat_replication），并为延迟超过 RPO 设置告警。',
	'Monitor replication lag and sync state (pg_stat_replication) and alert when lag exceeds the RPO.', NULL, true),
('001:7.5a', 'JR/T 0199-2020', '7.5 a', '{}',
	'应急预案及演练', 'Contingency plans and drills',
	'应建立业务连续性预案程序，预案应包括应急和系统灾难恢复两部分，具体要求如下：应急部分包括但不限于灾难场景和范围定义、应急的管理机构和决策机制、应急响应的流程、工具和工作制度等内容；系统灾难恢复部分包括但不限于灾难恢复的范围和目标、灾难恢复的总体规程、各系统恢复的切换步骤、操作手册和业务功能恢复验证测试方法等内容。',
	'Business continuity plans with an emergency part (scenarios, organisation, response) and a disaster recovery part (scope, goals, procedures, switchover steps).',
	'manual', NULL, 'finsec.record_switchover_drill(); compliance check switchover_drilled',
	'每年至少一次备份系统与生产系统切换演练，并以 finsec.record_switchover_drill() 记录。',
	'Drill the switchover between backup and production at least yearly and record it with finsec.record_switchover_drill().', 'related requirement digest ids: B5', true),
('001:7.5b', 'JR/T 0199-2020', '7.5 b', '{B5}',
	'应急预案及演练', 'Contingency plans and drills',
	'应建立应急预案演练制度，定期开展应急演练培训，定期组织有业务部门参与的桌面演练和生产系统实战演练，定期对双机热备系统进行切换演练，备份系统与生产系统的切换要至少每年演练1次。针对DDoS、数据窃取泄露等重要安全威胁，定期开展有相关单位、部门参与的联合演练。',
	'Switchover between backup and production drilled at least yearly.',
	'automated', NULL, 'finsec.record_switchover_drill(); compliance check switchover_drilled',
	'每年至少一次备份系统与生产系统切换演练，并以 finsec.record_switchover_drill() 记录。',
	'Drill the switchover between backup and production at least yearly and record it with finsec.record_switchover_drill().', NULL, true),
('001:7.5c', 'JR/T 0199-2020', '7.5 c', '{}',
	'应急预案及演练', 'Contingency plans and drills',
	'应急和灾难恢复流程应避免数据泄露的风险。',
	'Emergency and recovery procedures avoid the risk of data leaks.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“应急预案及演练”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Contingency plans and drills.', NULL, true),
('001:8.1', 'JR/T 0199-2020', '8.1', '{R8}',
	'算法设计', 'Algorithm design',
	'算法设计应满足以下要求：a) 应正确定义目标函数，避免目标函数错误导致决策偏离预期甚至出现伤害性结果。b) 应避免算法目标函数运算成本过高，确保算法目标函数运算的占用资源不会使整体运行效率明显降低。c) 算法表达能力应充分，避免算法在实际使用时面对不同于训练阶段的全新情况产生错误的结果。d) 应避免应用于金融业务中的算法存在因设计者和开发者的主观选择造成的偏见决策结果。e) 应避免应用于金融业务中的算法存在因客观训练数据造成的偏见决策结果。f) 应根据不同业务场景需要设计对应的算法或者模型。',
	'Algorithms: explainable, features documented, model version and deployment recorded, training data checksummed, output minimal, probing rate limited.',
	'manual', NULL, 'risk model registry, reasons, caller rate limit (docs/risk.md)',
	'登记模型版本与部署（finsec.request_risk_deploy()），记录特征与训练数据校验值；保留模型文档作为证据。',
	'Register model versions and deployments (finsec.request_risk_deploy()), record features and training-data checksums; keep model documentation as evidence.', NULL, true),
('001:8.2', 'JR/T 0199-2020', '8.2', '{R8}',
	'算法可解释性', 'Algorithm explainability',
	'算法可解释性应满足以下要求：a) 特征变量若从业务出发，其定义应满足相关业务逻辑和规则。b) 特征分布应符合人的常识和业务规则，尽量避免特征变量的值是异常数据点。c) 应明确记录特征选择的业务逻辑和算法依据。d) 应能够标识代表性样本或非代表性样本，并对其进行相关说明。e) 在模型构建过程中，应根据具体业务场景和具体算法，至少定义1项具体的指标来度量可解释性。f) 应避免科技产品中的算法存在非公开性、算法复杂性造成的决策结果不可解释的问题。g) 应通过代码注释等方式提高算法的可读性。',
	'Algorithms: explainable, features documented, model version and deployment recorded, training data checksummed, output minimal, probing rate limited.',
	'manual', NULL, 'risk model registry, reasons, caller rate limit (docs/risk.md)',
	'登记模型版本与部署（finsec.request_risk_deploy()），记录特征与训练数据校验值；保留模型文档作为证据。',
	'Register model versions and deployments (finsec.request_risk_deploy()), record features and training-data checksums; keep model documentation as evidence.', NULL, true),
('001:8.3', 'JR/T 0199-2020', '8.3', '{R8}',
	'算法可追溯性', 'Algorithm traceability',
	'算法可追溯性应满足以下要求：a) 应记录训练数据获取时间、训练数据量、数据存储介质标识。b) 应对使用的训练数据有完整签名或校验码。c) 应保存建模过程中建模脚本及参数迭代的相关记录。d) 应对建模过程的操作者进行标识，记录建模的起止时间戳和迭代次数。e) 应记录算法模型部署的操作者，标识部署时间及相关结果。f) 应保存算法模型部署的相关脚本。',
	'Algorithms: explainable, features documented, model version and deployment recorded, training data checksummed, output minimal, probing rate limited.',
	'manual', NULL, 'risk model registry, reasons, caller rate limit (docs/risk.md)',
	'登记模型版本与部署（finsec.request_risk_deploy()），记录特征与训练数据校验值；保留模型文档作为证据。',
	'Register model versions and deployments (finsec.request_risk_deploy()), record features and training-data checksums; keep model documentation as evidence.', NULL, true),
('001:8.4', 'JR/T 0199-2020', '8.4', '{R8}',
	'算法攻击防范', 'Algorithm attack prevention',
	'算法攻击防范应满足以下要求：a) 应加强算法关于训练数据、模型的传输、存储等方面的安全管理，防范训练数据、模型被窃取。b) 应保障算法训练步骤安全，防范训练过程被窃取导致训练信息泄露，进而恶意构建相似模型。c) 算法模型应具有辨识度，如模型添加水印等，通过合适途径辨别恶意伪构模型。d) 应确保训练数据来源可信、可靠，避免采集到标签错误等恶意诱饵数据。e) 应确保训练数据分布合理，防止诱饵攻击数据点混入，造成模型倾斜等错误状况。f) 在满足用户需求的前提下，算法模型输出的反馈信息应遵循最小够用的原则，避免泄露信息过多造成逆向攻击。g) 应通过限制攻击者对人工智能算法测试频率，避免恶意探测获取人工智能算法信息，逆向构建恶意模型。',
	'Algorithms: explainable, features documented, model version and deployment recorded, training data checksummed, output minimal, probing rate limited.',
	'manual', NULL, 'risk model registry, reasons, caller rate limit (docs/risk.md)',
	'登记模型版本与部署（finsec.request_risk_deploy()），记录特征与训练数据校验值；保留模型文档作为证据。',
	'Register model versions and deployments (finsec.request_risk_deploy()), record features and training-data checksums; keep model documentation as evidence.', NULL, true),
('001:10.1', 'JR/T 0199-2020', '10.1', '{Q1}',
	'数据质量', 'Data quality',
	'金融科技创新机构应建立有效的数据质量管理措施，满足以下要求：a) 应对数据进行分类管理，明确不同数据之间的关系和依赖性，制定数据质量管理目标。b) 应明确数据质量管理部门和机制，定义数据质量管理的角色和职责，建立数据质量管理办法。c) 应研发数据质量相关技术，支撑数据质量管理和数据质量提升。d) 应识别数据生命周期各个阶段的数据质量关键因素，构建数据质量评估框架，包括但不限于数据的准确性、完整性、一致性、可访问性、及时性、相关性和可信度等。e) 应采用定性评估、定量评估或综合评估等方法，评估和持续优化数据质量。',
	'Data quality: accuracy, completeness, consistency, timeliness assessed.',
	'manual', NULL, 'data-quality report finsec.report_data_quality() (docs/compliance.md)',
	'定期运行 finsec.report_data_quality() 评估准确性、完整性、一致性与及时性。',
	'Run finsec.report_data_quality() periodically to assess accuracy, completeness, consistency and timeliness.', NULL, true),
('001:10.2.1', 'JR/T 0199-2020', '10.2.1', '{}',
	'全生命周期防护', 'Life-cycle protection',
	'金融科技创新机构应从个人金融信息采集、传输、存储、使用、删除、销毁等方面建立全生命周期防护措施，符合JR/T 0171-2020的相关要求。',
	'Personal financial information is protected from collection to destruction as JR/T 0171-2020 requires.',
	'manual', NULL, 'protected types (finsec.protected_*), security labels (docs/protected-data.md); compliance check sensitive_columns_labelled',
	'敏感字段（姓名、联系方式、交易内容）改用 finsec 受保护类型加密存储，并以 SECURITY LABEL FOR finsec 标记。',
	'Store sensitive fields (names, contacts, transaction content) in finsec protected types and label them with SECURITY LABEL FOR finsec.', 'related requirement digest ids: D3', true),
('001:10.2.2', 'JR/T 0199-2020', '10.2.2', '{}',
	'安全管理', 'Security management',
	'金融科技创新机构应从安全策略、访问控制、监测评估、事件处理等方面建立个人金融信息安全管理措施，符合JR/T 0171-2020的相关要求。',
	'Security policy, access control, monitoring and incident handling of personal financial information per JR/T 0171-2020.',
	'manual', NULL, 'protected types (finsec.protected_*), security labels (docs/protected-data.md); compliance check sensitive_columns_labelled',
	'敏感字段（姓名、联系方式、交易内容）改用 finsec 受保护类型加密存储，并以 SECURITY LABEL FOR finsec 标记。',
	'Store sensitive fields (names, contacts, transaction content) in finsec protected types and label them with SECURITY LABEL FOR finsec.', 'related requirement digest ids: D3', true),
('001:11.1', 'JR/T 0199-2020', '11.1', '{}',
	'基本安全要求', 'Basic security requirements',
	'金融科技创新机构应按照GB/T 22240进行定级，并满足JR/T 0071中对应等级的要求。',
	'Graded per GB/T 22240 and meeting the corresponding level of JR/T 0071.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“基本安全要求”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Basic security requirements.', NULL, true),
('001:11.2.1', 'JR/T 0199-2020', '11.2.1', '{}',
	'感知终端安全', 'Sensing terminal security',
	'感知终端安全应考虑物理安全、接入安全、通信安全、设备安全等内容，满足以下要求：a) 应在防盗窃防破坏、防水防潮、防极端温度、防震防灾等方面满足部署的要求。b) 应在接入网络中具有唯一网络身份标识。c) 应设置网络访问控制策略，限制对感知终端的网络访问。d) 应具有并启用通信完整性校验机制，实现数据传输的完整性保护。e) 应具有通信延时和中断的处理机制。f) 应能控制数据的本地或远程访问。g) 具有操作系统的感知终端应能控制操作系统用户的访问权限。h) 具有操作系统的感知终端应能为操作系统事件生成审计记录，审计记录应包括日期、事件、操作用户、操作类型等信息。i) 具有操作系统的感知终端应仅安装经授权的软件。……',
	'Sensing terminals: physical protection, unique network identity, access control, integrity checks of communication.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“感知终端安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Sensing terminal security.', NULL, true),
('001:11.2.2a', 'JR/T 0199-2020', '11.2.2 a', '{}',
	'感知层网关安全', 'Sensing-layer gateway security',
	'应具备基本的防火、防潮、防水等的措施。',
	'Gateways have basic protection against fire, damp and water.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“感知层网关安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Sensing-layer gateway security.', NULL, true),
('001:11.2.2b', 'JR/T 0199-2020', '11.2.2 b', '{}',
	'感知层网关安全', 'Sensing-layer gateway security',
	'应能够对感知终端进行鉴别。',
	'Gateways authenticate sensing terminals.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“感知层网关安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Sensing-layer gateway security.', NULL, true),
('001:11.2.2c', 'JR/T 0199-2020', '11.2.2 c', '{}',
	'感知层网关安全', 'Sensing-layer gateway security',
	'应保证密钥存储和交换安全。',
	'Key storage and key exchange are secure.',
	'manual', NULL, 'keyring: finsec.key_verify(), key_rotate, two-person key changes (docs/keyring.md); compliance checks master_key, keys_verified, key_rotation',
	'在 finsec 密钥环中登记全部密钥，定期运行 finsec.key_verify()，按期轮换（finsec.key_rotate()），密钥操作经双人批准。',
	'Register every key in the finsec keyring, run finsec.key_verify() regularly, rotate on schedule (finsec.key_rotate()), key operations approved by two people.', 'related requirement digest ids: D7', true),
('001:11.2.2d', 'JR/T 0199-2020', '11.2.2 d', '{}',
	'感知层网关安全', 'Sensing-layer gateway security',
	'应支持访问控制表（ACL）等访问控制策略，防止资源被非法访问和非法使用。',
	'Access control policies (ACLs) prevent illegal access to and use of resources.',
	'manual', NULL, 'compliance check public_privileges; RLS on customer tables (docs/security-model.md)',
	'撤销 PUBLIC 的 CREATE 及业务表权限（REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC），对客户数据表启用行级安全。',
	'Revoke PUBLIC CREATE and PUBLIC privileges on business tables (REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC); enable row-level security on customer tables.', 'related requirement digest ids: A17', true),
('001:11.2.2e', 'JR/T 0199-2020', '11.2.2 e', '{}',
	'感知层网关安全', 'Sensing-layer gateway security',
	'应对感知层网关中存储的重要数据进行保护，避免非授权的访问。',
	'Important data stored in the gateway are protected from unauthorised access.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“感知层网关安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Sensing-layer gateway security.', NULL, true),
('001:11.2.2f', 'JR/T 0199-2020', '11.2.2 f', '{}',
	'感知层网关安全', 'Sensing-layer gateway security',
	'应具备对传输数据完整性校验机制，实现隐私数据、重要业务数据等重要数据的传输完整性保护（如：校验码、消息摘要、数字签名等）。',
	'The integrity of transmitted private and important business data is protected (check codes, digests, signatures).',
	'manual', NULL, 'row hash chains and finsec.ledger_verify(), protect_table (docs/audit.md); compliance check posted_tables_protected',
	'用 finsec.protect_table() 保护已记账的交易表，并定期运行 finsec.ledger_verify()/finsec.audit_verify()。',
	'Protect posted transaction tables with finsec.protect_table() and run finsec.ledger_verify() / finsec.audit_verify() regularly.', 'related requirement digest ids: D6', true),
('001:11.2.2g', 'JR/T 0199-2020', '11.2.2 g', '{}',
	'感知层网关安全', 'Sensing-layer gateway security',
	'应能控制感知层网关用户的访问权限，并避免权限的扩散。',
	'Gateway users'' access rights are controlled and do not spread.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“感知层网关安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Sensing-layer gateway security.', NULL, true),
('001:11.2.2h', 'JR/T 0199-2020', '11.2.2 h', '{}',
	'感知层网关安全', 'Sensing-layer gateway security',
	'应提供安全措施对感知层网关进行远程配置。',
	'Remote configuration of gateways is secured.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“感知层网关安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Sensing-layer gateway security.', NULL, true),
('001:11.2.2i', 'JR/T 0199-2020', '11.2.2 i', '{A3b}',
	'感知层网关安全', 'Perception-layer gateway security',
	'身份鉴别失败时，应记录用户的身份和所使用的访问设备的标识。',
	'On authentication failure record the identity and the device/address used.',
	'automated', NULL, 'audit: failed authentication recorded with role and client address (docs/auth.md, docs/audit.md)',
	'加载 finsec 认证钩子并开启 log_connections，使认证失败记录身份和来源地址。',
	'Load the finsec authentication hook and enable log_connections so failed authentications record the identity and client address.', NULL, true),
('001:11.2.2j', 'JR/T 0199-2020', '11.2.2 j', '{}',
	'感知层网关安全', 'Sensing-layer gateway security',
	'协议转换失败时，应记录转换数据包的来源和时间。',
	'When protocol conversion fails, the source and time of the packet are recorded.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“感知层网关安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Sensing-layer gateway security.', NULL, true),
('001:11.3.1', 'JR/T 0199-2020', '11.3.1', '{}',
	'仿冒钓鱼', 'Counterfeiting and phishing',
	'金融科技创新机构应采取有效的仿冒钓鱼防护措施，满足以下要求：a) APP 安装、启动、更新时应应对自身的完整性和真实性进行校验，具备抵御篡改、替换或劫持的能力。b) APP 应具备基本的抗攻击能力，能抵御静态分析、动态调试等操作。c) 客户端代码应使用代码加壳、代码混淆、检测调试器等手段对 APP 进行安全保护。d) 应采取渠道监控等措施对仿冒客户端程序进行监测。e) 网站应具有防网络钓鱼的安全提示功能，例如显示客户预留信息、客户自定义个性化界面等。f) 应具备钓鱼攻击监测能力，例如增加客户端提交的页面来源地址信息的校验、设置转账白名单等。……',
	'Apps verify their own integrity and authenticity, resist analysis and tampering; anti-phishing measures.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“仿冒钓鱼”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Counterfeiting and phishing.', NULL, true),
('001:11.3.2a', 'JR/T 0199-2020', '11.3.2 a', '{}',
	'安全漏洞管理', 'Vulnerability management',
	'应考虑功能逻辑设计的合理性，避免逻辑漏洞。',
	'Functional logic is designed soundly to avoid logic flaws.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全漏洞管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Vulnerability management.', NULL, true),
('001:11.3.2b', 'JR/T 0199-2020', '11.3.2 b', '{}',
	'安全漏洞管理', 'Vulnerability management',
	'应避免调用存在安全漏洞的函数、组件。',
	'Functions and components with known vulnerabilities are not used.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全漏洞管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Vulnerability management.', NULL, true),
('001:11.3.2c', 'JR/T 0199-2020', '11.3.2 c', '{}',
	'安全漏洞管理', 'Vulnerability management',
	'应进行开源系统或组件的安全评估，及时进行漏洞修复和加固处理。',
	'Open-source systems and components are assessed, patched and hardened promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全漏洞管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Vulnerability management.', NULL, true),
('001:11.3.2d', 'JR/T 0199-2020', '11.3.2 d', '{A3,M2,M7,A17}',
	'安全漏洞管理', 'Vulnerability management',
	'应在设计和开发阶段避免网站、客户端、SDK、API 等存在常见漏洞，包括但不限于：穷举尝试漏洞：采取限制错误登录次数、设置图形验证码等方式防止穷举登陆尝试；图形验证码应随机产生，采取图片底纹干扰、颜色变换、设置非连续性及旋转图片字体、变异字体显示样式、交互式认证等有效方式，防止验证码被自动识别；应具有使用时间限制并仅能使用 1 次；应由服务器生成，客户端源文件中不应包含验证码文本。重放漏洞：采取有效措施防范重放攻击，例如，在登录交互过程提交的认证数据中增加服务器生成的随机信息成分。注入漏洞：服务器应用程序应对客户提交的所有表单、参数进行有效的合法性判断和非法字符过滤，防止攻击者恶意构造语句实施注入攻击……',
	'Login failure handling: limit failed attempts, end session, lock out, auto logout. Prevent replay (server-generated random element; one-time codes). One-time passwords/verification codes: server-generated, shortest validity, single use. Default accounts'' privileges strictly limited; no privilege escalation; no access to others'' resources.',
	'automated', NULL, 'auth: failed-login lockout (finsec.auth_state(), finsec.unlock_role(); docs/auth.md); finsec.consume_nonce() / try_consume_nonce() replay window (docs/mac.md); finsec.otp_issue() / otp_verify() (docs/mac.md); compliance check public_privileges; RLS on customer tables (docs/security-model.md)',
	'设置 finsec.max_auth_failures（如 5）、finsec.auth_failure_window、finsec.lockout_duration（如 30min）、finsec.auth_failure_delay，由管理员用 finsec.unlock_role() 解锁。用 finsec.consume_nonce() 为每笔请求消费服务器生成的随机数以防重放。一次性密码用 finsec.otp_issue() 由服务器生成，设置最短有效期，finsec.otp_verify() 保证单次使用。撤销 PUBLIC 的 CREATE 及业务表权限（REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC），对客户数据表启用行级安全。',
	'Set finsec.max_auth_failures (e.g. 5), finsec.auth_failure_window, finsec.lockout_duration (e.g. 30min) and finsec.auth_failure_delay; administrators unlock with finsec.unlock_role(). Consume a server-generated nonce per request with finsec.consume_nonce() to prevent replay. One-time passwords come from finsec.otp_issue() with the shortest validity; finsec.otp_verify() makes them single use. Revoke PUBLIC CREATE and PUBLIC privileges on business tables (REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC); enable row-level security on customer tables.', NULL, true),
('001:11.3.2e', 'JR/T 0199-2020', '11.3.2 e', '{}',
	'安全漏洞管理', 'Vulnerability management',
	'应在金融科技创新应用上线前进行源代码安全审计、渗透测试，及时处理安全漏洞，有效控制安全风险。',
	'Before go-live, source code audit and penetration testing; vulnerabilities handled promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全漏洞管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Vulnerability management.', NULL, true),
('001:11.3.2f', 'JR/T 0199-2020', '11.3.2 f', '{}',
	'安全漏洞管理', 'Vulnerability management',
	'应对金融科技创新应用进行定期及变更时的漏洞扫描，及时修补发现的系统安全漏洞。',
	'Vulnerability scans regularly and on change; vulnerabilities found are fixed promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全漏洞管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Vulnerability management.', NULL, true),
('001:11.3.2g', 'JR/T 0199-2020', '11.3.2 g', '{}',
	'安全漏洞管理', 'Vulnerability management',
	'应建立紧急补丁（应急方案）的开发、发布流程，以备必要时提供紧急补丁或应急方案进行处理，以修补重要安全漏洞。',
	'A process to develop and release emergency patches or workarounds for important vulnerabilities.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全漏洞管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Vulnerability management.', NULL, true),
('001:11.3.3a', 'JR/T 0199-2020', '11.3.3 a', '{}',
	'网络攻击防护', 'Network attack protection',
	'应对客户端软件、网站、API 和 SDK 的常见网络攻击，包括但不限于穷举登录尝试、重放攻击、注入攻击、跨站脚本攻击、文件上传下载攻击、非法提权、逆向工程等，进行监测、识别和阻断。',
	'Common attacks on clients, websites, APIs and SDKs (brute force, replay, injection, XSS, upload/download, privilege escalation, reverse engineering) are monitored, identified and blocked.',
	'manual', NULL, 'finsec.consume_nonce() / try_consume_nonce() replay window (docs/mac.md)',
	'用 finsec.consume_nonce() 为每笔请求消费服务器生成的随机数以防重放。',
	'Consume a server-generated nonce per request with finsec.consume_nonce() to prevent replay.', 'related requirement digest ids: M2', true),
('001:11.3.3b', 'JR/T 0199-2020', '11.3.3 b', '{R4}',
	'网络攻击防护', 'Network attack protection',
	'宜针对设备、IP、账号等建立关联关系，利用社群发现、风险传播等方式精准防御团伙欺诈行为。',
	'Link analysis across account, device, IP, location, phone; gang detection.',
	'manual', NULL, 'finsec.linked_entities() (docs/risk.md)',
	'用 finsec.linked_entities() 做账户、设备、IP、位置、手机号的关联排查。',
	'Use finsec.linked_entities() for link analysis across account, device, IP, location and phone.', NULL, true),
('001:11.3.3c', 'JR/T 0199-2020', '11.3.3 c', '{R5}',
	'网络攻击防护', 'Network attack protection',
	'宜基于用户行为频率、属性聚集等特征，针对批量或高频登录等异常行为，例如异常登录、注册、邀请好友、提现下单，利用 IP 地址、终端设备标识等信息进行综合识别，及时采取附加验证、拒绝请求等手段降低安全隐患。',
	'Batch / high-frequency abnormal behaviour by IP and device identifiers.',
	'manual', NULL, 'velocity rules by IP and device (docs/risk.md)',
	'设置按 IP 与设备标识的频率规则识别批量或高频异常。',
	'Set velocity rules by IP and device identifiers to detect batch or high-frequency abnormal behaviour.', NULL, true),
('001:11.3.4', 'JR/T 0199-2020', '11.3.4', '{}',
	'安全事件处理', 'Security incident handling',
	'金融科技创新机构应建立有效的安全事件处理机制，满足以下要求：a) 对于重大信息安全事件，相关人员应注意保护事件现场，采取必要的控制措施。b) 应定期对本机构及同业发生的信息安全事件及风险进行深入研判、分析，评估现有控制措施的脆弱性，及时整改发现的问题。',
	'Serious incidents'' scenes preserved and controlled; incidents of the institution and peers analysed and weaknesses fixed.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全事件处理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security incident handling.', NULL, true),
('001:12.1', 'JR/T 0199-2020', '12.1', '{}',
	'技术管理', 'Technology management',
	'a) 金融科技创新机构在新技术选型时，应满足以下要求：应有效研判新技术在金融业务的应用价值，正确进行新技术选型；应审慎选择新技术，进行新技术应用风险评估，避免过度采用未成熟的新技术；应对技术复杂性与金融业务复杂性进行关联分析，提高缺陷及时识别的能力。b) 金融科技创新机构在新技术研发时，应满足以下要求：应建立第三方技术、组件或产品的管理清单，明确记录提供方、版本等信息；应跟踪第三方技术、组件或产品的更新情况，及时甄别版本变化带来的影响；应与第三方技术、组件或产品的供应商明确安全责任，建立有效的风险联动机制。……',
	'New technologies selected prudently after risk assessment; technical and business complexity analysed together.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“技术管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Technology management.', NULL, true),
('001:12.2a', 'JR/T 0199-2020', '12.2 a', '{}',
	'风险控制', 'Risk control',
	'应采用科学的风险管理技术和方法，充分识别和评估金融科技创新应用面临的风险，对各类主要风险进行持续监控。',
	'Risks of the innovation are identified, assessed and continuously monitored with sound methods.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“风险控制”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Risk control.', NULL, true),
('001:12.2b', 'JR/T 0199-2020', '12.2 b', '{}',
	'风险控制', 'Risk control',
	'应做好新技术金融应用风险防范，建立健全试错容错机制，完善风险拨备资金、保险计划、应急处置等风险补偿措施，具体要求如下：应根据新技术与业务融合的潜在风险，制定风险拨备资金管理要求；应根据新技术与业务融合的潜在风险，完善保险计划；应具备先行赔付、保险补偿等保护金融消费者合法权益的具体措施；应根据新技术与业务融合的潜在风险，完善应急处置措施；应具备重大突发事件应急处置机制。',
	'Trial-and-error tolerance with risk provisions, insurance and emergency handling as compensation measures.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“风险控制”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Risk control.', NULL, true),
('001:12.2c', 'JR/T 0199-2020', '12.2 c', '{L10}',
	'风险控制', 'Risk control',
	'应建立健全客户投诉处理机制，制定金融科技创新应用的投诉处理工作流程，定期汇总分析投诉反映事项，查找问题，有效改进服务和管理。',
	'Transaction disputes and complaints: complaint, handling, confirmation, cancellation.',
	'manual', NULL, 'risk cases: finsec.risk_case_open/close (docs/risk.md)',
	'以 finsec 风险案件记录投诉、处理、确认与撤销。',
	'Record complaints, handling, confirmation and cancellation as finsec risk cases.', NULL, true),
('001:12.3', 'JR/T 0199-2020', '12.3', '{}',
	'内控保障', 'Internal control assurance',
	'金融科技创新机构应建立有效的内部控制保障机制，满足以下要求：a) 应建立健全内部控制制度体系，为金融科技创新应用制定全面、系统、规范的管理制度和业务流程，并定期进行评估。b) 应明确金融科技创新应用的工作组织机制，明确工作负责人。金融科技创新应用由多个机构共同开发、运营时，应指定牵头负责单位，建立工作协调机制、联合运营机制、问题协同处理机制等控制措施。c) 应定期开展金融科技创新应用内部审计。d) 应当建立内部控制问题整改机制，明确整改责任部门，规范整改工作流程，确保整改措施落实到位。……',
	'A complete internal control system with regular evaluation and a named responsible organisation.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内控保障”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal control assurance.', NULL, true),
('001:appendix', 'JR/T 0199-2020', '附录', '{B1}',
	'容灾等级划分及关键指标要求', 'Disaster-recovery levels and key indicators',
	'容灾能力等级分为6级；3级：RTO≤24小时、RPO≤24小时、可用性至少99%；4级：RTO≤4小时、RPO≤1小时、99.9%；5级：RTO≤30分钟、RPO≈0、99.99%；6级：RTO≤2分钟、RPO为0、99.999%。',
	'Six disaster-recovery levels; level 3: RTO <= 24 h, RPO <= 24 h, availability >= 99 %; level 4: 4 h / 1 h / 99.9 %; level 5: 30 min / ~0 / 99.99 %; level 6: 2 min / 0 / 99.999 %.',
	'automated', NULL, 'finsec.dr_level(); compliance check dr_level against finsec.dr_target_level (docs/compliance.md)',
	'按目标容灾等级配置归档、备份、备库与故障切换工具（设置 finsec.dr_target_level、finsec.dr_failover_tool），运行 SELECT * FROM finsec.dr_level() 查看缺项。',
	'Configure archiving, backups, standbys and failover tooling for the target level (finsec.dr_target_level, finsec.dr_failover_tool); SELECT * FROM finsec.dr_level() lists what is missing.', NULL, true),
('002:3.1', 'JR/T 0096.5-2012', '3.1', '{C8}',
	'机构代码分配', 'Institution code allocation',
	'凡符合移动支付联网联合相关标准,并经审批合格的入网机构,均会被分配唯一的机构代码。',
	'Access and deregistration of information providers/users; no deregistration with open disputes.',
	'manual', NULL, 'institution registry finsec.credit_institution_* (docs/credit.md)',
	'信息提供者/使用者的接入与注销通过 finsec.credit_institution_apply()/deregister() 办理，有未结异议时不得注销。',
	'Provider/user access and deregistration go through finsec.credit_institution_apply() / deregister(); no deregistration with open disputes.', NULL, true),
('002:3.2.1', 'JR/T 0096.5-2012', '3.2.1', '{}',
	'基本要求', 'Basic requirement',
	'入网机构应先满足JR/T0095-2012相关要求。',
	'Member institutions first meet JR/T 0095-2012.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“基本要求”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Basic requirement.', NULL, true),
('002:3.2.2', 'JR/T 0096.5-2012', '3.2.2', '{L2,L5}',
	'制度要求', 'Policy requirements',
	'客户提供的身份信息和银行账户信息经多次验证仍未通过的，应予以重点关注，并暂停相关业务处理；发现支付账户信息被盗取、欺诈、洗钱等风险事件的，应对客户采取暂停交易、限制账户使用等相关措施。',
	'Account states normal / frozen / closed; freeze and unfreeze; frozen accounts cannot transact; freeze on law-enforcement order. Identity or account verification failing repeatedly suspends the business.',
	'manual', NULL, 'account states: finsec.set_account_state(), freeze_account(), unfreeze_account(), close_account() (docs/limits.md); account state fed by a failure counter (docs/limits.md)',
	'账户状态由 finsec.set_account_state()/freeze_account() 维护，冻结或注销的账户交易被拒绝。身份或账户验证多次失败时用 finsec.restrict_account() 暂停相关业务。',
	'Maintain account states with finsec.set_account_state() / freeze_account(); frozen or closed accounts cannot transact. Suspend the business with finsec.restrict_account() after repeated failed verifications.', NULL, true),
('002:3.2.3', 'JR/T 0096.5-2012', '3.2.3', '{}',
	'机房管理', 'Machine room management',
	'放置涉及移动支付交易(直接传输或处理移动支付交易、为移动支付交易提供支持服务)的网络设备和系统设备的机房,必须满足以下相关要求:一应按国家标准GB2887和GB9361的相关规定,采取防震、消防、空调、防潮、防静电,防雷击、供电安全等措施:一应建立并实行出入安全管理制度,采用专人值守或电子门禁方式,对人员进出机房情况进行日常监控:一一需划分区域进行管理,区域和区域之间设置物理隔离装置,各区分别实行不同的防护措施;需使用人工或闭路电视监控系统监视敏感区域:一应建立值班制度,配备值班人员,对机房内各类设备运行情况进行日常监控,并处置突发事件……',
	'Machine rooms meet GB 2887 and GB 9361 (earthquake, fire, climate, static, lightning, power) with guarded or electronic access control.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“机房管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Machine room management.', NULL, true),
('002:3.2.4', 'JR/T 0096.5-2012', '3.2.4', '{}',
	'网络安全要求', 'Network security',
	'入网机构应用系统与移动支付联网通用环境下的系统之间的连接，应使用专线、基于专网的MPLS，或基于Internet的IPSEC/SSL等接入方式，并保护生产网络安全。',
	'Connections to the mobile payment network use leased lines or MPLS, or IPSec/SSL over the Internet, with protected production networks.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全要求”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security.', NULL, true),
('002:3.2.5', 'JR/T 0096.5-2012', '3.2.5', '{A9,A11,U6,W7}',
	'主机系统安全要求', 'Host system security',
	'根据“知所必需”原则，严格进行对软件和系统的访问控制，禁用不必要的缺省用户；定期对用户访问文件、目录、数据库等权限进行检查，剔除不活动用户，防止用户权限过大；开启必要审计接口，定期分析处理重要用户行为、系统资源的异常使用和重要系统命令的使用；监控主机的CPU、硬盘、内存、网络等资源的使用情况；主机和应用系统采用两种以上组合的鉴别技术实现用户身份鉴别。',
	'Remove inactive users; disable unnecessary default users; dev/test/audit accounts gone before production. Two or more authentication techniques for administrative users; login addresses of administrators restricted. Audit covers user privileges, important user behaviour and important system commands of every DB user. Disk space planned; CPU, disk and memory monitored.',
	'automated', NULL, 'finsec.role_last_login(); compliance check inactive_roles (docs/compliance.md); compliance checks admin_strong_auth, hba_superuser_wide, hba_no_trust (pg_hba_file_rules); ledger records DDL, GRANT/REVOKE, roles, ALTER SYSTEM (docs/audit.md); compliance check log_ddl; monitor data and WAL disk usage (docs/monitor.md)',
	'禁用超过 finsec.compliance_inactive_after 未登录的角色（ALTER ROLE ... NOLOGIN），上线前删除开发、测试、审计用账户。管理用户仅通过 hostssl 的 cert 或 cert+scram 认证登录，并在 pg_hba.conf 中限制其登录地址；删除 trust 与 0.0.0.0/0 超级用户规则。确认 finsec 已预加载且账本记录 DDL、授权与 ALTER SYSTEM；设置 log_statement = ''ddl''。监控数据与 WAL 目录磁盘使用并规划容量。',
	'Disable roles that have not logged in within finsec.compliance_inactive_after (ALTER ROLE ... NOLOGIN); drop development, test and audit accounts before production. Administrators connect only over hostssl with cert (or cert plus scram) from restricted addresses in pg_hba.conf; remove trust lines and superuser lines open to 0.0.0.0/0. Check finsec is preloaded and the ledger records DDL, grants and ALTER SYSTEM; set log_statement = ''ddl''. Monitor data and WAL disk usage and plan capacity.', NULL, true),
('002:3.2.6', 'JR/T 0096.5-2012', '3.2.6', '{A1c,A2,A6,A7,U3,A9,A16}',
	'应用系统安全要求', 'Application system security',
	'须建立口令管理规则，设定各类口令长度（不得小于6位）、复杂度（必须包含数字和字符）、修改周期（不得长于3个月）、不可明文传输、应加密存储等要求；实现最小授权原则和应用系统用户的权限分离；审计日志应受到保护，仅接受授权用户的访问，需至少保存三个月；开发、测试或审计中所用的账户在进入生产环境前都已经删除或禁用；软件开发人员与运维人员职责分离；变更实施时要求双人复核。',
	'Passwords at least 6, digits and letters; never plaintext in transit, stored encrypted. Password validity at most 6 months (database, OS, app users); application passwords changed at least every 3 months. Separation of duties: security officer not also DBA/sysadmin; developers not operators; least privilege; privileged users separated. Two-person control for critical operations (key handling, changes). Retention: at least 3 months (002), at least 6 months (004). Remove inactive users; disable unnecessary default users; dev/test/audit accounts gone before production. Changes approved, made only after a backup, double-reviewed.',
	'automated', NULL, 'auth: password policy; password_encryption = scram-sha-256 (docs/auth.md); auth: finsec.password_max_age, VALID UNTIL enforcement (docs/auth.md); finsec roles (docs/security-model.md); compliance checks duty_conflicts, superusers, privileged_attributes; finsec.change_request / finsec.approve: a second, different finsec_admin approves (docs/security-model.md); audit retention floor (docs/audit.md); compliance check ledger_retention; finsec.role_last_login(); compliance check inactive_roles (docs/compliance.md); finsec.change_request / finsec.approve; backup register (docs/compliance.md)',
	'设置 password_encryption = ''scram-sha-256''，口令最小长度不少于 6 位且含数字和字母；用 SCRAM 重设仍为 md5 校验值的角色口令。设置 finsec.password_max_age（普通账户不超过 6 个月，应用账户不超过 3 个月），为每个登录角色设置 VALID UNTIL。撤销登录角色上相互冲突的职责（REVOKE finsec_admin FROM ...），超级用户仅保留引导角色，开发与运维角色分离。关键操作（密钥、限额、规则变更）通过 finsec 变更申请，由另一名 finsec_admin 以 finsec.approve() 批准；确保至少两名管理员。设置 finsec.audit_retention 不少于 6 个月（004）/ 3 个月（002）。禁用超过 finsec.compliance_inactive_after 未登录的角色（ALTER ROLE ... NOLOGIN），上线前删除开发、测试、审计用账户。变更前在备份登记中记录一次成功备份，并通过 finsec 变更申请双人复核。',
	'Set password_encryption = ''scram-sha-256'', a minimum length of at least 6 with digits and letters; reset the passwords of roles that still have md5 verifiers. Set finsec.password_max_age (at most 6 months, 3 months for application accounts) and give every login role a VALID UNTIL. Revoke conflicting duties from login roles (REVOKE finsec_admin FROM ...), keep only the bootstrap superuser, separate developers from operators. Critical operations (keys, limits, rules) go through finsec change requests approved by a different finsec_admin with finsec.approve(); keep at least two administrators. Set finsec.audit_retention to at least 6 months (004) / 3 months (002). Disable roles that have not logged in within finsec.compliance_inactive_after (ALTER ROLE ... NOLOGIN); drop development, test and audit accounts before production. Before a change, record a successful backup in the backup register and have the change double-reviewed through a finsec change request.', NULL, true),
('002:3.2.7', 'JR/T 0096.5-2012', '3.2.7', '{D1,D2,D7,A10,U9}',
	'账户信息安全和密钥管理要求', 'Account information security and key management',
	'入网机构的系统只能存储用于交易清分、差错处理所必需的最基本的账户信息，不得存储卡磁道信息、卡片验证码、个人识别码的明文和密文及卡片有效期；严格控制存有账户信息的数据库系统的访问权限，对系统管理员和应用系统专用账号外的其他用户进行必要的系统审计；应用系统专用账号仅供应用程序访问数据库使用，关闭非必须的访问数据库应用工具；监控屏应屏蔽持卡人敏感数据（如账号校验位前的若干位）；密钥管理及控制应遵循本标准第6部分第5章的要求。',
	'Never store card track data, card verification code, PIN (plain or cipher) or card expiry. Monitoring screens mask account numbers (digits before the check digit). Key management: keys registered, verified periodically, multi-person control, role separation, approved issue/load/change/destroy. The application''s database account is used only by the application; unnecessary DB tools closed. Access to databases holding account information audited for everyone but the DBA and the application account.',
	'automated', NULL, 'compliance checks card_numbers_plain, card_sensitive_data; finsec.bank_card type (docs/cards.md); finsec.bank_card / bank_account masked output by default (docs/cards.md); keyring: finsec.key_verify(), key_rotate, two-person key changes (docs/keyring.md); compliance checks master_key, keys_verified, key_rotation; finsec_app role; auth hook application-role client restriction (docs/auth.md, docs/security-model.md); audited reads of labelled columns (docs/protected-data.md)',
	'删除存放磁道、卡片验证码、PIN 或卡片有效期的列；卡号改用 finsec.bank_card 类型存储。监控界面从 finsec.bank_card 列读取（默认屏蔽），仅 finsec_unmask 成员可查看明文；检查应用界面截图作为证据。在 finsec 密钥环中登记全部密钥，定期运行 finsec.key_verify()，按期轮换（finsec.key_rotate()），密钥操作经双人批准。应用专用账户只授予 finsec_app，并在 pg_hba.conf 中限定其来源地址；关闭不必要的数据库工具访问。对存有账户信息的列设置 finsec 标记，使 DBA 与应用账户以外的访问被审计。',
	'Drop columns holding track data, card verification codes, PINs or card expiry; store card numbers in the finsec.bank_card type. Monitoring screens read finsec.bank_card columns (masked by default); only finsec_unmask members see clear values; keep screenshots of the screens as evidence. Register every key in the finsec keyring, run finsec.key_verify() regularly, rotate on schedule (finsec.key_rotate()), key operations approved by two people. Grant the application account only finsec_app and restrict its source addresses in pg_hba.conf; close unnecessary database tool access. Label account-information columns so that reads by anyone but the DBA and the application account are audited.', NULL, true),
('002:3.2.8', 'JR/T 0096.5-2012', '3.2.8', '{}',
	'恶意代码防护', 'Malicious code protection',
	'需配备相应的人员负责恶意代码防护工作的日常管理及维护，定期察看恶意代码威胁日志并处理；用户在装载外部介质上的数据和程序之前必须对外部介质进行扫描以防止病毒。',
	'Staff maintain malicious code protection, review threat logs and handle them; external media are scanned before use.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“恶意代码防护”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Malicious code protection.', NULL, true),
('002:3.2.9', 'JR/T 0096.5-2012', '3.2.9', '{B2,B3}',
	'运营管理要求', 'Operations management',
	'涉及移动支付交易的应用系统数据需每日进行增量备份，定期进行全备份，备份数据定期同城异处存放；需定期进行备份数据恢复，以检验备份数据的有效性；重要的生产系统服务器需采用双机备份的设计。',
	'Daily incremental and weekly full backups; restore tested. Database servers in hot standby or cluster.',
	'automated', NULL, 'backup register finsec.record_backup(); compliance checks backup_schedule, wal_archiving; compliance check standby_present',
	'每天增量、每周全量备份并以 finsec.record_backup() 登记（如 pgBackRest 钩子），开启 WAL 归档。部署至少一个流复制热备库（primary_conninfo），并确认其出现在 pg_stat_replication。',
	'Take daily incremental and weekly full backups and record them with finsec.record_backup() (e.g. from a pgBackRest hook); enable WAL archiving. Run at least one streaming hot standby (primary_conninfo) and check it appears in pg_stat_replication.', NULL, true),
('002:4.1', 'JR/T 0096.5-2012', '4.1', '{}',
	'商户分类', 'Merchant classification',
	'商户是指为消费者提供商品及服务的商业企业、个人或机构,与支付机构或收单机构签有支付或收单服务协议。在移动支付联网通用环境下,商户、消费者、收单机构通过移动支付与支付机构建立起支付关系。根据移动支付方式的不同,商户分为线上商户和线下商户。线上商户是指通过互联网、移动运营商通信网络,专用网络提供商品信息,并通过移动支付进行远程支付账务结算服务的商户,通常指网上商店。线下商户是指通过实体商店,互联网等多种方式提供商品信息,通过移动支付进行近场支付账务结算服务的商户,通常指实体商店。',
	'Merchants are online or offline, by the mobile payment mode.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“商户分类”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Merchant classification.', NULL, true),
('002:4.2', 'JR/T 0096.5-2012', '4.2', '{M5}',
	'商户代码分配', 'Merchant code allocation',
	'受理机构按照相关标准与规定为商户设定商户类别码（MCC），设定的商户类别码必须与商户的主营业务保持一致；在同一报文中，域42商户代码包含的MCC应与域18填写的MCC保持匹配。',
	'Merchant code carries the MCC, and it must match the message''s MCC field.',
	'manual', NULL, 'merchant code / MCC validator (docs/identifiers.md)',
	'在报文入库时校验商户代码内含 MCC 与域 18 一致。',
	'Validate at load time that the merchant code''s MCC matches field 18.', NULL, true),
('002:4.3', 'JR/T 0096.5-2012', '4.3', '{}',
	'线下商户管理', 'Offline merchant management',
	'对于线下商户,使用近场支付服务时,技术上要求按照受理终端及通讯网络提供方规定执行,并由其确保支付过程的安全性。',
	'Near-field payments of offline merchants follow the terminal and network providers'' technical rules.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“线下商户管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Offline merchant management.', NULL, true),
('002:4.4.1', 'JR/T 0096.5-2012', '4.4.1', '{}',
	'基本安全要求', 'Basic security requirements',
	'线上商户通过支付内容平台向消费者提供商品或服务,本节描述支付内容平台与远程支付系统互联的基本安全要求。支付内容平台与远程支付系统互联可以划分为网络传输层、业务数据层及交易处理层。网络传输层是指信息系统之间的网络传输协议和数据的集合:业务数据层是指信息系统之间基于网络传输协议封装的业务和应用数据的集合。交易处理层是指在支付交易处理过程中,信息系统的处理过程集合。根据三个层面安全需求的不同,分别对其定义相应的安全要求网络传输安全要求:主要基于目前已成熟。得到广泛应用的网络传输协议,规定了信息系统适用的网络协议的集合。业务数据安全要求:主要规定了业务数据在信息系统之间进行网络传输及存储的安全要求……',
	'Interconnection of the payment content platform and the remote payment system is secured at the transport, business-data and transaction layers.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“基本安全要求”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Basic security requirements.', NULL, true),
('002:4.4.2', 'JR/T 0096.5-2012', '4.4.2', '{M6,A12}',
	'传输安全', 'Transmission security',
	'应使用足够强度的加密算法和安全协议保护移动终端与远程支付系统之间的连接，尽可能进行双向认证；如使用SSL协议，应使用3.0及以上相对高版本的协议，取消对低版本协议的支持；SSL加密密钥长度应不低于128位，用于签名的RSA密钥长度应不低于1024位，用于签名的ECC密钥长度应不低于160位；定时重新协商会话密钥。',
	'Signature keys: RSA at least 1024 bits, ECC at least 160 bits. SSL without old protocol versions, keys ≥ 128 bits, mutual authentication for important batch clients.',
	'automated', NULL, 'key import checks: RSA >= 2048, ECC >= 256 (docs/keyring.md, docs/signatures.md); compliance checks ssl_enabled, ssl_protocol, ssl_ciphers, hba_batch_clientcert',
	'签名密钥通过 finsec.key_import()/register_signer() 导入，低于强度要求的密钥被拒绝。设置 ssl = on、ssl_min_protocol_version = ''TLSv1.2''、强密码套件（如 HIGH:!aNULL:!MD5:!3DES:!RC4）；批量客户端在 pg_hba.conf 中使用 hostssl ... cert 或 clientcert=verify-full。',
	'Import signature keys with finsec.key_import() / register_signer(); keys below the required strength are refused. Set ssl = on, ssl_min_protocol_version = ''TLSv1.2'', strong ciphers (e.g. HIGH:!aNULL:!MD5:!3DES:!RC4); batch clients use hostssl ... cert or clientcert=verify-full in pg_hba.conf.', NULL, true),
('002:4.4.3', 'JR/T 0096.5-2012', '4.4.3', '{D3,M1,D11}',
	'业务数据安全', 'Business data security',
	'支付内容平台与远程支付系统应当对发送的报文关键要素（商户代码、订单编号、订单日期时间、交易金额等）计算MAC或进行签名加密，接收方用相同的方法计算MAC或进行验签；交易数据保存应将姓名、联系方式、交易内容等敏感信息进行加密处理，保存时间不少于法律法规规定的年限。',
	'Sensitive fields (name, contact, transaction content) encrypted at rest; storage confidentiality of authentication data and important business data. Sender computes a MAC or signature over key elements (merchant code, order number, order date-time, amount); receiver recomputes and verifies. Transaction data stored with names, contacts, transaction content encrypted; kept for the required period.',
	'automated', NULL, 'protected types (finsec.protected_*), security labels (docs/protected-data.md); compliance check sensitive_columns_labelled; finsec.mac(), finsec.payment_mac() / payment_mac_verify() (docs/mac.md); protected personal data; retention of transaction records (docs/protected-data.md)',
	'敏感字段（姓名、联系方式、交易内容）改用 finsec 受保护类型加密存储，并以 SECURITY LABEL FOR finsec 标记。报文关键要素（商户代码、订单号、订单时间、金额）用 finsec.payment_mac() 计算 MAC，接收方用 finsec.payment_mac_verify() 校验。交易数据中的姓名、联系方式、交易内容使用受保护类型存储，并按法定年限保存。',
	'Store sensitive fields (names, contacts, transaction content) in finsec protected types and label them with SECURITY LABEL FOR finsec. Compute the MAC over the key elements (merchant code, order number, order time, amount) with finsec.payment_mac(); the receiver verifies with finsec.payment_mac_verify(). Store names, contacts and transaction content in protected types and keep transaction records for the legal period.', NULL, true),
('002:4.4.4', 'JR/T 0096.5-2012', '4.4.4', '{M2,M3,M4}',
	'交易过程安全', 'Transaction process security',
	'支付内容平台与远程支付系统应可防止对交易的重放攻击；实现相互身份鉴别，保证交易的抗抵赖性（如证书签名）；应防止对支付成功的订单重复支付。',
	'Prevent replay (server-generated random element; one-time codes). Prevent duplicate payment of an order already paid; order cancel refused once paid; refunds not above the original. Non-repudiation: proof of origin and of receipt.',
	'manual', NULL, 'finsec.consume_nonce() / try_consume_nonce() replay window (docs/mac.md); finsec.enable_order_guard(), enable_refund_guard() (docs/guards.md); finsec.sign(), sign_receipt(), verify_receipt() (docs/signatures.md)',
	'用 finsec.consume_nonce() 为每笔请求消费服务器生成的随机数以防重放。对订单表启用 finsec.enable_order_guard()、对退款表启用 finsec.enable_refund_guard()。用 finsec.sign()/finsec.sign_receipt() 生成原发与接收证据，登记签名者证书（finsec.register_signer()）。',
	'Consume a server-generated nonce per request with finsec.consume_nonce() to prevent replay. Enable finsec.enable_order_guard() on the orders table and finsec.enable_refund_guard() on the refunds table. Produce proof of origin and receipt with finsec.sign() / finsec.sign_receipt(), with signer certificates registered (finsec.register_signer()).', NULL, true),
('003:6.1.1.1', 'PAY-FAC-V3.0', '6.1.1.1', '{}',
	'客户信息登记及管理', 'Customer registration and records',
	'应实现客户注册、客户信息的编辑等功能。',
	'Customer registration and editing of customer information are provided.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“客户信息登记及管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Customer registration and records.', NULL, true),
('003:6.1.1.2', 'PAY-FAC-V3.0', '6.1.1.2', '{}',
	'商业银行管理', 'Commercial bank management',
	'应实现商业银行的接入、信息修改和删除。',
	'Commercial banks are connected, and their information changed and removed.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“商业银行管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Commercial bank management.', NULL, true),
('003:6.1.1.3', 'PAY-FAC-V3.0', '6.1.1.3', '{}',
	'客户证书管理', 'Customer certificate management',
	'应实现电子证书的申请、发放、更新、作废等服务。',
	'Electronic certificates are applied for, issued, renewed and revoked.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“客户证书管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Customer certificate management.', NULL, true),
('003:6.1.1.4', 'PAY-FAC-V3.0', '6.1.1.4', '{}',
	'客户审核', 'Customer review',
	'应实现客户注册信息的审核、确认开通及关键信息修改审核等功能。',
	'Customer registrations, activation and changes of key information are reviewed and confirmed.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“客户审核”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Customer review.', NULL, true),
('003:6.1.2.1', 'PAY-FAC-V3.0', '6.1.2.1', '{L2}',
	'客户支付账户管理', 'Customer payment account management',
	'应实现客户支付账户的开户、修改、状态设置等功能;客户支付账户状态至少包括正常、冻结、注销等。增强要求为:应实现客户账户的开户、修改、冻结/解冻、销户等功能。',
	'Account states normal / frozen / closed; freeze and unfreeze; frozen accounts cannot transact; freeze on law-enforcement order.',
	'manual', NULL, 'account states: finsec.set_account_state(), freeze_account(), unfreeze_account(), close_account() (docs/limits.md)',
	'账户状态由 finsec.set_account_state()/freeze_account() 维护，冻结或注销的账户交易被拒绝。',
	'Maintain account states with finsec.set_account_state() / freeze_account(); frozen or closed accounts cannot transact.', NULL, true),
('003:6.1.2.2', 'PAY-FAC-V3.0', '6.1.2.2', '{}',
	'客户支付账户管理审核', 'Review of payment account management',
	'应实现客户支付账户信息的审核、确认等服务。',
	'Customer payment account information is reviewed and confirmed.',
	'manual', NULL, 'account states: finsec.set_account_state(), freeze_account(), unfreeze_account(), close_account() (docs/limits.md)',
	'账户状态由 finsec.set_account_state()/freeze_account() 维护，冻结或注销的账户交易被拒绝。',
	'Maintain account states with finsec.set_account_state() / freeze_account(); frozen or closed accounts cannot transact.', 'related requirement digest ids: L2', true),
('003:6.1.2.3', 'PAY-FAC-V3.0', '6.1.2.3', '{}',
	'客户支付账户查询', 'Payment account queries',
	'应实现客户支付账户设置、交易等信息的查询。',
	'Settings and transactions of customer payment accounts can be queried.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“客户支付账户查询”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Payment account queries.', NULL, true),
('003:6.1.2.4', 'PAY-FAC-V3.0', '6.1.2.4', '{L7}',
	'客户支付账户资金审核', 'Customer account funds review',
	'应实现当客户支付账户资金转移、交易、结算时,进行资金的审核和确认等。',
	'Funds checked and confirmed at transfer, transaction and settlement.',
	'manual', NULL, 'balance checks in the limit trigger (docs/limits.md)',
	'转账、交易、结算时校验余额并确认，保留审核记录。',
	'Check and confirm funds at transfer, transaction and settlement, keeping the review records.', NULL, true),
('003:6.1.3.1', 'PAY-FAC-V3.0', '6.1.3.1', '{}',
	'一般支付', 'Ordinary payment',
	'一般支付指客户在商户提供的平台上选购商品或服务,并在支付服务方确认付款的支付交易流程。本交易的特点为:客户在支付服务方进行身份认证、交易认证、支付工具确认等,并且支付服务方不对交易双方提供交易担保。应实现客户一般支付交易功能。',
	'Ordinary payment: the customer authenticates, confirms the transaction and the payment instrument; no guarantee between the parties.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“一般支付”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Ordinary payment.', NULL, true),
('003:6.1.3.2', 'PAY-FAC-V3.0', '6.1.3.2', '{}',
	'担保支付', 'Guaranteed payment',
	'担保支付指客户在商户提供的平台上选购商品或服务,并确认付款到支付服务方提供的中间账户,由支付服务方为支付的双方提供交易担保,由付款人在确认收到货物(服务)后或者在指定期限付款人未进行收货确认时,把资金划转到收款人账户的一种业务。应实现客户担保支付交易功能。',
	'Guaranteed payment: funds are held in an intermediate account until the payer confirms receipt or the period ends.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“担保支付”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Guaranteed payment.', NULL, true),
('003:6.1.3.3', 'PAY-FAC-V3.0', '6.1.3.3', '{}',
	'协议支付', 'Agreement payment',
	'协议支付指客户、商户、支付服务方事前签约,在支付时商户根据签约凭证直接向支付服务方发起扣款交易。协议支付要求客户信任商户能够保障自己的资金安全。应实现客户协议支付交易功能。',
	'Agreement payment: the merchant debits the customer under a prior signed agreement.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“协议支付”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Agreement payment.', NULL, true),
('003:6.1.3.4', 'PAY-FAC-V3.0', '6.1.3.4', '{M3}',
	'订单撤销', 'Order cancellation',
	'应实现客户撤销订单功能。订单撤销是客户因业务需要,在支付业务未完成前,取消订单的过程。如果支付已经完成,则拒绝响应撤销订单请求。',
	'Prevent duplicate payment of an order already paid; order cancel refused once paid; refunds not above the original.',
	'manual', NULL, 'finsec.enable_order_guard(), enable_refund_guard() (docs/guards.md)',
	'对订单表启用 finsec.enable_order_guard()、对退款表启用 finsec.enable_refund_guard()。',
	'Enable finsec.enable_order_guard() on the orders table and finsec.enable_refund_guard() on the refunds table.', NULL, true),
('003:6.1.3.5', 'PAY-FAC-V3.0', '6.1.3.5', '{}',
	'转账', 'Transfer',
	'应实现不同客户支付账户之间的相互转账功能。',
	'Transfers between customer payment accounts are provided.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“转账”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Transfer.', NULL, true),
('003:6.1.3.6', 'PAY-FAC-V3.0', '6.1.3.6', '{}',
	'充值', 'Top-up',
	'应实现客户支付账户的充值或预存现金。',
	'Customer payment accounts can be topped up or prepaid.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“充值”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Top-up.', NULL, true),
('003:6.1.3.7', 'PAY-FAC-V3.0', '6.1.3.7', '{}',
	'提现', 'Withdrawal',
	'应实现将资金从客户支付账户转账到银行账户的服务。',
	'Funds are transferred from the customer payment account to a bank account.',
	'manual', NULL, 'limits and risk rules on withdrawals and refunds (docs/limits.md, docs/risk.md)',
	'为提现与退款设置限额和风险规则，并保留审核确认记录。',
	'Put limits and risk rules on withdrawals and refunds and keep the review records.', 'related requirement digest ids: L11', true),
('003:6.1.3.8', 'PAY-FAC-V3.0', '6.1.3.8', '{}',
	'积分查询', 'Points query',
	'应实现客户积分信息的查询。',
	'Customer loyalty points can be queried.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“积分查询”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Points query.', NULL, true),
('003:6.1.3.9', 'PAY-FAC-V3.0', '6.1.3.9', '{}',
	'积分兑换', 'Points redemption',
	'应实现客户积分兑换服务。',
	'Customer loyalty points can be redeemed.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“积分兑换”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Points redemption.', NULL, true),
('003:6.1.3.10', 'PAY-FAC-V3.0', '6.1.3.10', '{}',
	'积分兑换撤销', 'Cancellation of points redemption',
	'应实现撤销客户积分兑换,且撤消后积分退还客户服务。',
	'A points redemption can be cancelled and the points returned to the customer.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“积分兑换撤销”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Cancellation of points redemption.', NULL, true),
('003:6.1.3.11', 'PAY-FAC-V3.0', '6.1.3.11', '{L10}',
	'交易纠纷处理', 'Transaction disputes',
	'应实现客户交易的投诉、处理、确认、撤销等。',
	'Transaction disputes and complaints: complaint, handling, confirmation, cancellation.',
	'manual', NULL, 'risk cases: finsec.risk_case_open/close (docs/risk.md)',
	'以 finsec 风险案件记录投诉、处理、确认与撤销。',
	'Record complaints, handling, confirmation and cancellation as finsec risk cases.', NULL, true),
('003:6.1.3.12', 'PAY-FAC-V3.0', '6.1.3.12', '{}',
	'交易明细查询', 'Transaction detail query',
	'应实现按照时间、交易类型或者客户等交易明细信息进行查询的功能,且能实现浏览交易明细。',
	'Transaction details can be queried by time, type or customer and browsed.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“交易明细查询”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Transaction detail query.', NULL, true),
('003:6.1.3.13', 'PAY-FAC-V3.0', '6.1.3.13', '{}',
	'交易明细下载', 'Transaction detail download',
	'应实现交易明细信息下载到指定终端。',
	'Transaction details can be downloaded to a designated terminal.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“交易明细下载”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Transaction detail download.', NULL, true),
('003:6.1.3.14', 'PAY-FAC-V3.0', '6.1.3.14', '{}',
	'邀请其他人代付', 'Payment by another person',
	'应实现邀请他人进行支付。',
	'A customer can invite another person to pay.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“邀请其他人代付”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Payment by another person.', NULL, true),
('003:6.1.4', 'PAY-FAC-V3.0', '6.1.4', '{D8}',
	'资金结算', 'Funds settlement',
	'6.1.4.1 客户结算应实现支付服务方与客户之间的资金结算功能。增强要求为:报文设计符合《基于INTERNET的网上支付报文结构及要素》6.2.7、6.2.8中的报文结构设计要求;交易模型及流程设计符合《基于INTERNET的网上支付交易模型及流程》6.1.5中的要求。',
	'Exact money amounts for settlement, reconciliation and refunds.',
	'manual', NULL, 'finsec.money type (docs/money.md)',
	'金额列使用 finsec.money 类型（精确到最小货币单位），不使用浮点类型。',
	'Use the finsec.money type (exact minor units) for amounts, never floating point.', NULL, true),
('003:6.1.4.1', 'PAY-FAC-V3.0', '6.1.4.1', '{}',
	'客户结算', 'Customer settlement',
	'应实现支付服务方与客户之间的资金结算功能。增强要求为:报文设计符合《基于INTERNET的网上支付报文结构及要素》6.2.7、6.2.8中的报文结构设计要求;交易模型及流程设计符合《基于INTERNET的网上支付交易模型及流程》6.1.5中的要求。',
	'Funds are settled between the payment service provider and its customers (enhanced: message and flow design per the online payment standards).',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“客户结算”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Customer settlement.', NULL, true),
('003:6.1.5', 'PAY-FAC-V3.0', '6.1.5', '{D8,P1}',
	'对账处理', 'Reconciliation',
	'6.1.5.1 商户发送对账请求应实现商户提交对账申请,支付服务方提供对账信息的服务。 6.1.5.2 商户下载对账文件应实现商户对账文件的查询、浏览和下载等。',
	'Exact money amounts for settlement, reconciliation and refunds. Business reports (registrations, payments, settlements, transfers, withdrawals), operations reports, risk event reports, reconciliation files.',
	'manual', NULL, 'finsec.money type (docs/money.md); reports finsec.report_business(), report_risk() (docs/compliance.md)',
	'金额列使用 finsec.money 类型（精确到最小货币单位），不使用浮点类型。用 finsec.report_business()、finsec.report_risk() 生成业务与风险报表，对账文件由业务系统生成。',
	'Use the finsec.money type (exact minor units) for amounts, never floating point. Produce business and risk reports with finsec.report_business() and finsec.report_risk(); reconciliation files come from the business system.', NULL, true),
('003:6.1.5.1', 'PAY-FAC-V3.0', '6.1.5.1', '{}',
	'商户发送对账请求', 'Merchant reconciliation request',
	'应实现商户提交对账申请,支付服务方提供对账信息的服务。',
	'Merchants submit reconciliation requests and the provider returns reconciliation information.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“商户发送对账请求”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Merchant reconciliation request.', NULL, true),
('003:6.1.5.2', 'PAY-FAC-V3.0', '6.1.5.2', '{}',
	'商户下载对账文件', 'Merchant reconciliation file download',
	'应实现商户对账文件的查询、浏览和下载等。',
	'Merchants query, browse and download reconciliation files.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“商户下载对账文件”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Merchant reconciliation file download.', NULL, true),
('003:6.1.6', 'PAY-FAC-V3.0', '6.1.6', '{D8}',
	'差错处理', 'Error handling',
	'增强要求为:报文设计符合《基于INTERNET的网上支付报文结构及要素》6.2.10、6.2.11中的报文结构设计要求;交易模型及流程设计符合《基于INTERNET的网上支付交易模型及流程》6.2.2中的要求。 6.1.6.1 调账处理应实现对资金结算时发现的有待查明原因的现金溢余或短缺等情况进行调账等服务并进行记录。 6.1.6.2 单笔退款应实现对已发生的单笔交易进行退款申请、确认、审核、退款等功能。因商品退回或服务取消,客户向支付服务方提交单笔退款请求,支付服务方将部分或全部已扣款项退还给客户(个人或企业买方)的原扣款账户,原扣款账户不能接收退款的,退款到付款人其他账户。……',
	'Exact money amounts for settlement, reconciliation and refunds.',
	'manual', NULL, 'finsec.money type (docs/money.md)',
	'金额列使用 finsec.money 类型（精确到最小货币单位），不使用浮点类型。',
	'Use the finsec.money type (exact minor units) for amounts, never floating point.', NULL, true),
('003:6.1.6.1', 'PAY-FAC-V3.0', '6.1.6.1', '{L8}',
	'调账处理', 'Account adjustment',
	'应实现对资金结算时发现的有待查明原因的现金溢余或短缺等情况进行调账等服务并进行记录。',
	'Adjustments for cash surplus or shortage made and recorded.',
	'manual', NULL, 'reversal kinds and reports (docs/limits.md)',
	'现金溢余或短缺以调账（冲正类交易）处理并留痕。',
	'Record cash surplus or shortage as adjustment (reversal) entries.', NULL, true),
('003:6.1.6.2', 'PAY-FAC-V3.0', '6.1.6.2', '{M3,L9}',
	'单笔退款', 'Single refund',
	'应实现对已发生的单笔交易进行退款申请、确认、审核、退款等功能。因商品退回或服务取消,客户向支付服务方提交单笔退款请求,支付服务方将部分或全部已扣款项退还给客户(个人或企业买方)的原扣款账户,原扣款账户不能接收退款的,退款到付款人其他账户。',
	'Prevent duplicate payment of an order already paid; order cancel refused once paid; refunds not above the original. Refunds go back to the original debited account (else another account of the payer).',
	'manual', NULL, 'finsec.enable_order_guard(), enable_refund_guard() (docs/guards.md); finsec.enable_refund_guard() (docs/guards.md)',
	'对订单表启用 finsec.enable_order_guard()、对退款表启用 finsec.enable_refund_guard()。启用退款守卫，保证退款退回原扣款账户且不超过原交易金额。',
	'Enable finsec.enable_order_guard() on the orders table and finsec.enable_refund_guard() on the refunds table. Enable the refund guard so refunds go back to the original account and never exceed the original amount.', NULL, true),
('003:6.1.6.3', 'PAY-FAC-V3.0', '6.1.6.3', '{}',
	'批量退款', 'Batch refund',
	'应实现对已发生的多笔交易同时进行退款申请、确认、审核、退款等功能。因商品退回或服务取消,客户向支付服务方提交批量退款请求,支付服务方将部分或全部已扣款项退还给客户(个人或企业买方)的原扣款账户,原扣款账户不能接收退款的,退款到付款人其他账户。',
	'Refunds of several transactions at once are requested, confirmed, reviewed and paid, back to the original debited account (else another account of the payer).',
	'manual', NULL, 'finsec.enable_refund_guard() (docs/guards.md)',
	'启用退款守卫，保证退款退回原扣款账户且不超过原交易金额。',
	'Enable the refund guard so refunds go back to the original account and never exceed the original amount.', 'related requirement digest ids: L9', true),
('003:6.1.7', 'PAY-FAC-V3.0', '6.1.7', '{P1}',
	'统计报表', 'Statistical reports',
	'6.1.7.1 业务类报表应实现对一段时间内业务操作(客户注册、商户开通、支付、结算、转账、提现等操作)的查询统计功能。6.1.7.2 运行管理类报表应实现对一段时间内运行管理情况(资产、监控、安全事件等)的查询统计,第三方支付公司可以根据自身的情况将“一段时间”细化为“月季年”。',
	'Business reports (registrations, payments, settlements, transfers, withdrawals), operations reports, risk event reports, reconciliation files.',
	'manual', NULL, 'reports finsec.report_business(), report_risk() (docs/compliance.md)',
	'用 finsec.report_business()、finsec.report_risk() 生成业务与风险报表，对账文件由业务系统生成。',
	'Produce business and risk reports with finsec.report_business() and finsec.report_risk(); reconciliation files come from the business system.', NULL, true),
('003:6.1.7.1', 'PAY-FAC-V3.0', '6.1.7.1', '{}',
	'业务类报表', 'Business reports',
	'应实现对一段时间内业务操作(客户注册、商户开通、支付、结算、转账、提现等操作)的查询统计功能。',
	'Statistics over a period of business operations: registrations, merchant openings, payments, settlements, transfers, withdrawals.',
	'manual', NULL, 'reports finsec.report_business(), report_risk() (docs/compliance.md)',
	'用 finsec.report_business()、finsec.report_risk() 生成业务与风险报表，对账文件由业务系统生成。',
	'Produce business and risk reports with finsec.report_business() and finsec.report_risk(); reconciliation files come from the business system.', 'related requirement digest ids: P1', true),
('003:6.1.7.2', 'PAY-FAC-V3.0', '6.1.7.2', '{}',
	'运行管理类报表', 'Operations reports',
	'应实现对一段时间内运行管理情况(资产、监控、安全事件等)的查询统计,第三方支付公司可以根据自身的情况将“一段时间”细化为“月季年”。',
	'Statistics over a period of operations (assets, monitoring, security events), by month, quarter or year.',
	'manual', NULL, 'reports finsec.report_business(), report_risk() (docs/compliance.md)',
	'用 finsec.report_business()、finsec.report_risk() 生成业务与风险报表，对账文件由业务系统生成。',
	'Produce business and risk reports with finsec.report_business() and finsec.report_risk(); reconciliation files come from the business system.', 'related requirement digest ids: P1', true),
('003:6.1.8.1', 'PAY-FAC-V3.0', '6.1.8.1', '{U8}',
	'运营人员权限管理', 'Operator privilege management',
	'运营人员指具有审核、确认等权限的管理人员,应实现对此类人员权限的增加、删除、修改或审核等功能。',
	'Grants of operator privileges added, removed, changed, reviewed.',
	'manual', NULL, 'ledger of finsec role grants (docs/audit.md, docs/security-model.md)',
	'运营人员权限的增删改由账本记录，并定期复核（finsec.report_access_review()）。',
	'Grants of operator privileges are recorded in the ledger and reviewed periodically (finsec.report_access_review()).', NULL, true),
('003:6.1.8.2', 'PAY-FAC-V3.0', '6.1.8.2', '{L11}',
	'提现管理', 'Withdrawal management',
	'应实现对提现操作进行管理,如提现规则设置、提现审核确认等措施。',
	'Withdrawals and refunds reviewed and confirmed; refund risk identified.',
	'manual', NULL, 'limits and risk rules on withdrawals and refunds (docs/limits.md, docs/risk.md)',
	'为提现与退款设置限额和风险规则，并保留审核确认记录。',
	'Put limits and risk rules on withdrawals and refunds and keep the review records.', NULL, true),
('003:6.1.8.3', 'PAY-FAC-V3.0', '6.1.8.3', '{}',
	'提现财务处理', 'Financial processing of withdrawals',
	'应实现对提交的提现申请进行财务处理。',
	'Submitted withdrawal requests are processed financially.',
	'manual', NULL, 'limits and risk rules on withdrawals and refunds (docs/limits.md, docs/risk.md)',
	'为提现与退款设置限额和风险规则，并保留审核确认记录。',
	'Put limits and risk rules on withdrawals and refunds and keep the review records.', 'related requirement digest ids: L11', true),
('003:6.1.8.4', 'PAY-FAC-V3.0', '6.1.8.4', '{L11}',
	'退款风控处理', 'Refund risk control',
	'应实现对退款操作进行风险处理,如采用退款风险识别、退款审核确认等措施。',
	'Withdrawals and refunds reviewed and confirmed; refund risk identified.',
	'manual', NULL, 'limits and risk rules on withdrawals and refunds (docs/limits.md, docs/risk.md)',
	'为提现与退款设置限额和风险规则，并保留审核确认记录。',
	'Put limits and risk rules on withdrawals and refunds and keep the review records.', NULL, true),
('003:6.1.8.5', 'PAY-FAC-V3.0', '6.1.8.5', '{}',
	'退款财务处理', 'Financial processing of refunds',
	'应实现对退款申请进行财务处理。',
	'Refund requests are processed financially.',
	'manual', NULL, 'limits and risk rules on withdrawals and refunds (docs/limits.md, docs/risk.md)',
	'为提现与退款设置限额和风险规则，并保留审核确认记录。',
	'Put limits and risk rules on withdrawals and refunds and keep the review records.', 'related requirement digest ids: L11', true),
('003:6.2.1.1', 'PAY-FAC-V3.0', '6.2.1.1', '{D9}',
	'实名认证', 'Real-name verification',
	'应对客户进行实名认证。',
	'Real-name verification of customers; credit data keyed by ID numbers.',
	'manual', NULL, 'identifier types finsec.cn_resident_id, uscc, cn_mobile (docs/identifiers.md)',
	'客户证件号、统一社会信用代码、手机号使用 finsec 校验类型存储，实名认证流程由业务系统留存记录。',
	'Store resident IDs, unified social credit codes and phone numbers in the finsec validated types; the business system keeps the real-name verification records.', NULL, true),
('003:6.2.2.1', 'PAY-FAC-V3.0', '6.2.2.1', '{}',
	'监控规则管理', 'Monitoring rule management',
	'应确保在相关风险管理制度中完整、明确的定义各类(如实时、异常等)交易监控规则。',
	'Risk management rules define completely and clearly every kind of transaction monitoring rule (real-time, abnormal).',
	'manual', NULL, 'monitor background worker: rules, alerts (docs/monitor.md)',
	'启用 finsec.enable_monitoring() 与监控后台进程，配置规则并处理告警。',
	'Enable finsec.enable_monitoring() and the monitor worker, configure rules and handle alerts.', 'related requirement digest ids: W1', true),
('003:6.2.2.2', 'PAY-FAC-V3.0', '6.2.2.2', '{}',
	'当日交易查询', 'Same-day transaction query',
	'应实现当日交易信息的查询。',
	'Same-day transactions can be queried.',
	'manual', NULL, 'monitor background worker: rules, alerts (docs/monitor.md)',
	'启用 finsec.enable_monitoring() 与监控后台进程，配置规则并处理告警。',
	'Enable finsec.enable_monitoring() and the monitor worker, configure rules and handle alerts.', 'related requirement digest ids: W1', true),
('003:6.2.2.3', 'PAY-FAC-V3.0', '6.2.2.3', '{}',
	'历史交易查询', 'Historical transaction query',
	'应实现历史交易信息的查询。',
	'Historical transactions can be queried.',
	'manual', NULL, 'monitor background worker: rules, alerts (docs/monitor.md)',
	'启用 finsec.enable_monitoring() 与监控后台进程，配置规则并处理告警。',
	'Enable finsec.enable_monitoring() and the monitor worker, configure rules and handle alerts.', 'related requirement digest ids: W1', true),
('003:6.2.2.4', 'PAY-FAC-V3.0', '6.2.2.4', '{W1}',
	'实时交易监控', 'Real-time transaction monitoring',
	'应实现交易监控规则的设置,以实现对实时交易的监控,并提供对违反规则的交易进行查询、处理、风险控制等服务。增强要求为:建立账户与交易监控系统,对支付交易全过程实施7*24小时监控。',
	'Real-time 7x24 monitoring with configurable rules, alerts, queries and statistics of alerts.',
	'manual', NULL, 'monitor background worker: rules, alerts (docs/monitor.md)',
	'启用 finsec.enable_monitoring() 与监控后台进程，配置规则并处理告警。',
	'Enable finsec.enable_monitoring() and the monitor worker, configure rules and handle alerts.', NULL, true),
('003:6.2.2.5', 'PAY-FAC-V3.0', '6.2.2.5', '{R1,W1}',
	'可疑交易处理', 'Suspicious transaction handling',
	'应实现可疑交易处理规则的设置,以实现对可疑交易的查询、分析处理等服务。',
	'Risk model identifies and warns on suspicious transactions; report, review and closure of suspicious cases. Real-time 7x24 monitoring with configurable rules, alerts, queries and statistics of alerts.',
	'manual', NULL, 'risk scoring finsec.risk_score() and cases (docs/risk.md); monitor background worker: rules, alerts (docs/monitor.md)',
	'启用 finsec.enable_risk() 进行风险评分，可疑交易开立案件并复核、结案。启用 finsec.enable_monitoring() 与监控后台进程，配置规则并处理告警。',
	'Enable risk scoring with finsec.enable_risk(); open cases for suspicious transactions, review and close them. Enable finsec.enable_monitoring() and the monitor worker, configure rules and handle alerts.', NULL, true),
('003:6.2.2.6', 'PAY-FAC-V3.0', '6.2.2.6', '{W1}',
	'交易事件报警', 'Transaction event alarms',
	'应实现对违反规则的交易事件进行报警,并提供事件的查询统计。',
	'Real-time 7x24 monitoring with configurable rules, alerts, queries and statistics of alerts.',
	'manual', NULL, 'monitor background worker: rules, alerts (docs/monitor.md)',
	'启用 finsec.enable_monitoring() 与监控后台进程，配置规则并处理告警。',
	'Enable finsec.enable_monitoring() and the monitor worker, configure rules and handle alerts.', NULL, true),
('003:6.2.2.7', 'PAY-FAC-V3.0', '6.2.2.7', '{L1}',
	'支付限额管理', 'Payment limit management',
	'应根据用户使用的不同身份认证方式设置支付限额,以保护用户的资金安全。',
	'Single-transaction limit; daily cumulative limit; limits by authentication method; verification strength matched to amount.',
	'manual', NULL, 'limits: finsec.limit_trigger, request_limit_policy() (docs/limits.md)',
	'在交易表上启用 finsec.enable_limits()，以 finsec.request_limit_policy() 设置单笔、当日累计及按认证方式的限额。',
	'Enable finsec.enable_limits() on the transactions table and set single, daily cumulative and per-authentication-method limits with finsec.request_limit_policy().', NULL, true),
('003:6.2.2.8', 'PAY-FAC-V3.0', '6.2.2.8', '{L1}',
	'单笔交易限额', 'Single-transaction limit',
	'应设置单笔交易限额。',
	'Single-transaction limit; daily cumulative limit; limits by authentication method; verification strength matched to amount.',
	'manual', NULL, 'limits: finsec.limit_trigger, request_limit_policy() (docs/limits.md)',
	'在交易表上启用 finsec.enable_limits()，以 finsec.request_limit_policy() 设置单笔、当日累计及按认证方式的限额。',
	'Enable finsec.enable_limits() on the transactions table and set single, daily cumulative and per-authentication-method limits with finsec.request_limit_policy().', NULL, true),
('003:6.2.2.9', 'PAY-FAC-V3.0', '6.2.2.9', '{L1}',
	'当日累计交易限额', 'Daily cumulative limit',
	'应设置当日累计交易限额。',
	'Single-transaction limit; daily cumulative limit; limits by authentication method; verification strength matched to amount.',
	'manual', NULL, 'limits: finsec.limit_trigger, request_limit_policy() (docs/limits.md)',
	'在交易表上启用 finsec.enable_limits()，以 finsec.request_limit_policy() 设置单笔、当日累计及按认证方式的限额。',
	'Enable finsec.enable_limits() on the transactions table and set single, daily cumulative and per-authentication-method limits with finsec.request_limit_policy().', NULL, true),
('003:6.2.3', 'PAY-FAC-V3.0', '6.2.3', '{R7}',
	'交易审核', 'Transaction review',
	'6.2.3.1 系统自动审核应实现交易审核规则的设置,系统根据交易规则自动进行交易审核,并提供交易审核记录。 6.2.3.2 人工审核应确保在相关管理制度中完整、明确的定义需要人工审核的交易类型,实现人工审核规则的设置,并保存人工审核的记录。',
	'Automatic review rules with records; manual review records.',
	'manual', NULL, 'risk decisions and reviews recorded (docs/risk-log.md)',
	'自动审核决策由 finsec 风险决策日志记录，人工审核以案件复核记录。',
	'Automatic decisions are recorded in the finsec risk decision log; manual reviews as case reviews.', NULL, true),
('003:6.2.3.1', 'PAY-FAC-V3.0', '6.2.3.1', '{R10}',
	'系统自动审核', 'Automatic system review',
	'应实现交易审核规则的设置,系统根据交易规则自动进行交易审核,并提供交易审核记录。',
	'The system reviews transactions automatically by rules and keeps a record of every review.',
	'manual', NULL, 'risk decision log of every decision (docs/risk-log.md)',
	'启用 finsec 风险决策日志，保留每次自动审核的记录。',
	'Enable the finsec risk decision log so every automatic review is recorded.', NULL, true),
('003:6.2.3.2', 'PAY-FAC-V3.0', '6.2.3.2', '{}',
	'人工审核', 'Manual review',
	'应确保在相关管理制度中完整、明确的定义需要人工审核的交易类型,实现人工审核规则的设置,并保存人工审核的记录。',
	'Transaction types needing manual review are defined, manual review rules set and manual review records kept.',
	'manual', NULL, 'risk decisions and reviews recorded (docs/risk-log.md)',
	'自动审核决策由 finsec 风险决策日志记录，人工审核以案件复核记录。',
	'Automatic decisions are recorded in the finsec risk decision log; manual reviews as case reviews.', 'related requirement digest ids: R7', true),
('003:6.2.4.1', 'PAY-FAC-V3.0', '6.2.4.1', '{}',
	'风控规则管理', 'Risk rule management',
	'应确保在相关风险管理制度中是否完整、明确的定义各项风控规则的变更、审核和确认制度。',
	'Rules for changing, reviewing and confirming risk-control rules are defined completely and clearly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“风控规则管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Risk rule management.', NULL, true),
('003:6.2.4.2', 'PAY-FAC-V3.0', '6.2.4.2', '{R6}',
	'黑名单', 'Blacklist',
	'应实现黑名单的管理功能,并对黑名单中客户的交易进行风险监控。',
	'Blacklist management and monitoring of blacklisted customers.',
	'manual', NULL, 'risk lists with expiry (docs/risk.md)',
	'用 finsec 风险名单管理黑名单并监控名单客户交易。',
	'Manage the blacklist with finsec risk lists and monitor blacklisted customers'' transactions.', NULL, true),
('003:6.2.4.3', 'PAY-FAC-V3.0', '6.2.4.3', '{}',
	'风险识别', 'Risk identification',
	'应确保在相关风险管理制度中是否完整、明确的定义各种风险类别。',
	'The risk categories are defined completely and clearly.',
	'manual', NULL, 'risk reason codes mapped to fraud and compliance categories (docs/risk.md)',
	'风险规则的原因代码映射到欺诈与合规风险类别。',
	'Map risk rules'' reason codes to the fraud and compliance categories.', 'related requirement digest ids: R2', true),
('003:6.2.4.4', 'PAY-FAC-V3.0', '6.2.4.4', '{}',
	'事件管理', 'Event management',
	'应确保在相关风险管理制度中是否完整、明确的定义各项风险事件处理规则,并保留事件的记录。',
	'Handling rules for risk events are defined and the events recorded.',
	'manual', NULL, 'risk scoring finsec.risk_score() and cases (docs/risk.md)',
	'启用 finsec.enable_risk() 进行风险评分，可疑交易开立案件并复核、结案。',
	'Enable risk scoring with finsec.enable_risk(); open cases for suspicious transactions, review and close them.', 'related requirement digest ids: R1', true),
('003:6.2.4.5', 'PAY-FAC-V3.0', '6.2.4.5', '{P1}',
	'风险报表', 'Risk reports',
	'应提供一段时间内的风险事件报表,或提供查询一段时间内的风险事件报表功能。',
	'Business reports (registrations, payments, settlements, transfers, withdrawals), operations reports, risk event reports, reconciliation files.',
	'manual', NULL, 'reports finsec.report_business(), report_risk() (docs/compliance.md)',
	'用 finsec.report_business()、finsec.report_risk() 生成业务与风险报表，对账文件由业务系统生成。',
	'Produce business and risk reports with finsec.report_business() and finsec.report_risk(); reconciliation files come from the business system.', NULL, true),
('003:6.2.5', 'PAY-FAC-V3.0', '6.2.5', '{R9}',
	'商户风险管理', 'Merchant risk management',
	'6.2.5.1 商户资质审核应对商户资质进行审核。严格限制发展具有风险的商户。审核内容包括: a.营业执照、税务登记证、组织机构代码证,法人代表或商户负责人身份证等; b.商户网站域名是否可以正常访问,网站信息是否定时更新; c.是否取得 ICP证或有 ICP备案;d.网站内容。应提示特约商户定期审核网站,杜绝非法链接。 6.2.5.2 商户签约应与合作商户签订相关协议。',
	'Merchant qualification review; terminal relocation detection.',
	'manual', NULL, 'merchant status, device location rules (docs/risk.md)',
	'建立商户资质审核记录，设置终端移机检测规则。',
	'Keep merchant qualification review records and set terminal relocation rules.', NULL, true),
('003:6.2.5.1', 'PAY-FAC-V3.0', '6.2.5.1', '{}',
	'商户资质审核', 'Merchant qualification review',
	'应对商户资质进行审核。严格限制发展具有风险的商户。审核内容包括: a.营业执照、税务登记证、组织机构代码证,法人代表或商户负责人身份证等; b.商户网站域名是否可以正常访问,网站信息是否定时更新; c.是否取得 ICP证或有 ICP备案;d.网站内容。应提示特约商户定期审核网站,杜绝非法链接。',
	'Merchant qualifications (licences, identity, website, ICP filing, content) are reviewed; risky merchants strictly limited.',
	'manual', NULL, 'merchant status, device location rules (docs/risk.md)',
	'建立商户资质审核记录，设置终端移机检测规则。',
	'Keep merchant qualification review records and set terminal relocation rules.', 'related requirement digest ids: R9', true),
('003:6.2.5.2', 'PAY-FAC-V3.0', '6.2.5.2', '{}',
	'商户签约', 'Merchant agreements',
	'应与合作商户签订相关协议。',
	'Agreements are signed with partner merchants.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“商户签约”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Merchant agreements.', NULL, true),
('003:6.3.1', 'PAY-FAC-V3.0', '6.3.1', '{W6}',
	'系统要求', 'System performance requirements',
	'支付服务业务系统性能基本要求如表1所示。表1 互联网支付性能检测基本要求列表策略 稳定并发 并发数 比对性能需求表高峰时段并发数 CPU平均利用率 <=60% 并发成功率 100% 交易成功率 >=99% 测试时长 >=30分钟',
	'Service levels measured (average CPU ≤ 60 %, transaction success ≥ 99 %).',
	'manual', NULL, 'monitor QoS rules (docs/monitor.md)',
	'配置 CPU 利用率与交易成功率的监控规则（CPU 平均 ≤ 60%，成功率 ≥ 99%）。',
	'Configure monitoring rules for CPU usage and success rate (average CPU <= 60 %, success >= 99 %).', NULL, true),
('003:6.4.1.1.1', 'PAY-FAC-V3.0', '6.4.1.1.1', '{}',
	'网络冗余和备份', 'Network redundancy and backup',
	'应保证主要网络设备的业务处理能力具备冗余空间,满足业务高峰期需要。 应保证网络各个部分的带宽满足业务高峰期需要。增强要求为:应保证网络设备的业务处理能力具备冗余空间,满足业务高峰期需要;',
	'Main network devices have spare processing capacity and bandwidth for peak business.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络冗余和备份”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network redundancy and backup.', NULL, true),
('003:6.4.1.1.2', 'PAY-FAC-V3.0', '6.4.1.1.2', '{}',
	'网络安全路由器', 'Secure routing',
	'应在业务终端与业务服务器之间进行路由控制,建立安全的访问路径。',
	'Routing between business terminals and servers is controlled to build secure access paths.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全路由器”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Secure routing.', NULL, true),
('003:6.4.1.1.3', 'PAY-FAC-V3.0', '6.4.1.1.3', '{}',
	'网络安全防火墙', 'Network firewall',
	'应避免将重要网段部署在网络边界处且直接连接外部信息系统,重要网段与其他网段之间采取可靠的技术隔离手段。',
	'Important network segments are not at the boundary nor directly connected to external systems, and are reliably isolated.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全防火墙”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network firewall.', NULL, true),
('003:6.4.1.1.4', 'PAY-FAC-V3.0', '6.4.1.1.4', '{}',
	'网络拓扑结构', 'Network topology',
	'应绘制与当前运行情况相符的网络拓扑结构图。',
	'A network topology diagram matching the current operation is kept.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络拓扑结构”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network topology.', NULL, true),
('003:6.4.1.1.5', 'PAY-FAC-V3.0', '6.4.1.1.5', '{}',
	'IP子网划分', 'IP subnets',
	'应根据各部门的工作职能、重要性和所涉及信息的重要程度等因素,划分不同的子网或网段,并按照方便管理和控制的原则为各子网、网段分配地址段。',
	'Subnets and segments are divided by the departments'' functions and the importance of their information, with address ranges assigned for management and control.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“IP子网划分”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: IP subnets.', NULL, true),
('003:6.4.1.1.6', 'PAY-FAC-V3.0', '6.4.1.1.6', '{}',
	'QoS保证', 'QoS guarantee',
	'宜按照对业务服务的重要次序来指定带宽分配优先级别,保证在网络发生拥堵的时候优先保护重要主机。增强要求为:应按照对业务服务的重要次序来指定带宽分配优先级别,保证在网络发生拥堵的时候优先保护重要主机。',
	'Bandwidth priority follows the importance of business services so that important hosts are protected when the network is congested.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“QoS保证”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: QoS guarantee.', NULL, true),
('003:6.4.1.2.1', 'PAY-FAC-V3.0', '6.4.1.2.1', '{}',
	'网络域安全隔离和限制', 'Network domain isolation',
	'应在网络边界部署访问控制设备,启用访问控制功能。',
	'Access control devices are deployed at network boundaries with access control enabled.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络域安全隔离和限制”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network domain isolation.', NULL, true),
('003:6.4.1.2.2', 'PAY-FAC-V3.0', '6.4.1.2.2', '{}',
	'地址转换和绑定', 'Address translation and binding',
	'重要网段应采取技术手段防止地址欺骗。',
	'Important network segments are protected against address spoofing.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“地址转换和绑定”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Address translation and binding.', NULL, true),
('003:6.4.1.2.3', 'PAY-FAC-V3.0', '6.4.1.2.3', '{}',
	'内容过滤', 'Content filtering',
	'应对进出网络的信息内容进行过滤,实现对应用层HTTP、FTP、TELNET、SMTP、POP等协议命令级的控制。',
	'Content entering and leaving the network is filtered at application-protocol command level.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内容过滤”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Content filtering.', NULL, true),
('003:6.4.1.2.4', 'PAY-FAC-V3.0', '6.4.1.2.4', '{}',
	'访问控制', 'Access control',
	'应能根据会话状态信息为数据流提供明确的允许/拒绝访问的能力,控制粒度为端口级。 应按用户和系统之间的访问控制规则,决定允许或拒绝用户对受控系统进行资源访问,控制粒度为单个用户。',
	'Allow/deny by session state at port level; access to controlled systems decided per user by access control rules.',
	'automated', NULL, 'compliance check public_privileges; RLS on customer tables (docs/security-model.md)',
	'撤销 PUBLIC 的 CREATE 及业务表权限（REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC），对客户数据表启用行级安全。',
	'Revoke PUBLIC CREATE and PUBLIC privileges on business tables (REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC); enable row-level security on customer tables.', 'related requirement digest ids: A17', true),
('003:6.4.1.2.5', 'PAY-FAC-V3.0', '6.4.1.2.5', '{}',
	'流量控制', 'Traffic control',
	'应限制网络最大流量数及网络连接数。',
	'Maximum network traffic and the number of network connections are limited.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“流量控制”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Traffic control.', NULL, true),
('003:6.4.1.2.6', 'PAY-FAC-V3.0', '6.4.1.2.6', '{A5}',
	'会话控制', 'Session control',
	'应在会话处于非活跃一定时间或会话结束后终止网络连接。',
	'Idle sessions end after a set time; limit concurrent sessions per account and in total.',
	'automated', NULL, 'compliance checks idle_session_timeout, connection_limits (docs/compliance.md)',
	'设置 idle_session_timeout、idle_in_transaction_session_timeout，并为登录角色设置 CONNECTION LIMIT（ALTER ROLE ... CONNECTION LIMIT n）。',
	'Set idle_session_timeout and idle_in_transaction_session_timeout, and give login roles a CONNECTION LIMIT (ALTER ROLE ... CONNECTION LIMIT n).', NULL, true),
('003:6.4.1.2.7', 'PAY-FAC-V3.0', '6.4.1.2.7', '{}',
	'远程拨号访问控制和记录', 'Remote access control and records',
	'应通过技术手段控制管理用户对服务器进行远程访问。如使用VPN等技术。',
	'Remote access of administrators to servers is controlled by technical means such as VPN.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“远程拨号访问控制和记录”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Remote access control and records.', NULL, true),
('003:6.4.1.3.1', 'PAY-FAC-V3.0', '6.4.1.3.1', '{U1}',
	'日志信息', 'Log information',
	'应对网络系统中的网络设备运行状况、网络流量、用户行为等进行日志记录。审计记录应包括:事件的日期和时间、用户、事件类型、事件是否成功及其他与审计相关的信息。',
	'Each record: date, time, user, event type, subject, object, success/result, description, origin.',
	'manual', NULL, 'audit ledger row format (docs/audit.md)',
	'使用 finsec 审计账本（finsec.audit_event），其记录含日期时间、用户、事件类型、主客体、结果、描述和来源。',
	'Use the finsec audit ledger (finsec.audit_event): each record has date-time, user, event type, subject, object, result, description and origin.', NULL, true),
('003:6.4.1.3.2', 'PAY-FAC-V3.0', '6.4.1.3.2', '{}',
	'网络系统故障分析', 'Network fault analysis',
	'应对网络系统故障进行分析,查找原因并形成故障知识库。',
	'Network faults are analysed and a fault knowledge base built.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络系统故障分析”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network fault analysis.', NULL, true),
('003:6.4.1.3.3', 'PAY-FAC-V3.0', '6.4.1.3.3', '{U4}',
	'网络对象操作审计', 'Audit of network object operations',
	'应能够根据记录数据进行分析,并生成审计报表。',
	'Statistics, queries, analysis and audit reports.',
	'manual', NULL, 'reports finsec.report_audit() and friends (docs/compliance.md)',
	'用 finsec.report_audit() 等报表函数生成审计统计与报表，并保留报表。',
	'Produce audit statistics and reports with finsec.report_audit() and the other report functions, and keep them.', NULL, true),
('003:6.4.1.3.4', 'PAY-FAC-V3.0', '6.4.1.3.4', '{}',
	'日志权限和保护', 'Log permissions and protection',
	'应对审计记录进行保护,避免受到未预期的删除、修改或覆盖等。',
	'Audit records are protected from unexpected deletion, modification or overwriting.',
	'automated', NULL, 'append-only audit ledger with hash chain, finsec.audit_verify() (docs/audit.md); compliance check ledger_verified',
	'定期运行 finsec.audit_verify() 并确认结果无误。',
	'Run finsec.audit_verify() regularly and check its result.', 'related requirement digest ids: U2', true),
('003:6.4.1.3.5-enh', 'PAY-FAC-V3.0', '6.4.1.3.5 增强要求', '{W3,U12}',
	'审计工具', 'Audit tools',
	'应定义审计跟踪极限的阈值,当存储空间接近极限时,能采取必要的措施,当存储空间被耗尽时,终止可审计事件的发生;应根据信息系统的统一安全策略,实现集中审计,时钟宜采用多模方式授时。并应安排专人负责时间服务器,防止被恶意篡改。',
	'Audit storage nearing its limit triggers measures; when exhausted, auditable events stop. Clocks protected from malicious change.',
	'automated', 'enhanced', 'audit ledger capacity warning (docs/audit.md); compliance check ledger_capacity; audit_verify flags event times going backwards (docs/audit.md)',
	'设置 finsec.audit_capacity_warning 与 finsec.audit_capacity_limit，接近阈值时扩容或在保留期外清理（finsec.audit_purge()）。使用可信时间源（NTP）并防止篡改；finsec.audit_verify() 会标出时间倒退的事件。',
	'Set finsec.audit_capacity_warning and finsec.audit_capacity_limit; before the warning is reached add space or purge beyond retention (finsec.audit_purge()). Use a trusted time source (NTP) protected from tampering; finsec.audit_verify() flags event times going backwards.', NULL, true),
('003:6.4.1.4.1', 'PAY-FAC-V3.0', '6.4.1.4.1', '{W8}',
	'内外网非法连接阻断和定位', 'Blocking and locating illegal internal/external connections',
	'应能够对非授权设备私自连接到内部网络的行为进行检查,准确定出位置,并对其进行有效阻断。 应能够对内部网络用户私自连接到外部网络的行为进行检查,准确定出位置,并对其进行有效阻断。 增强要求为:对非法外联和非法接入行为进行检测并阻断的同时,应通过报警方式通知管理员。',
	'Every connection to external systems authorised and approved.',
	'automated', NULL, 'compliance check outbound_links (FDW, dblink, subscriptions) against finsec.outbound_allow',
	'所有外部连接须经批准：未批准的 FDW 服务器、订阅或 dblink 删除或经双人批准加入 finsec.outbound_allow。',
	'Every external connection is approved: drop unapproved FDW servers, subscriptions or dblink, or add them to finsec.outbound_allow with two-person approval.', NULL, true),
('003:6.4.1.5.1', 'PAY-FAC-V3.0', '6.4.1.5.1', '{}',
	'网络ARP欺骗攻击', 'ARP spoofing',
	'应能够有效的防范网络ARP欺骗攻击。',
	'Network ARP spoofing attacks are prevented effectively.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络ARP欺骗攻击”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: ARP spoofing.', NULL, true),
('003:6.4.1.5.2', 'PAY-FAC-V3.0', '6.4.1.5.2', '{}',
	'信息窃取', 'Information theft',
	'应采用防范信息窃取的措施。',
	'Measures against information theft are taken.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“信息窃取”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Information theft.', NULL, true),
('003:6.4.1.5.3', 'PAY-FAC-V3.0', '6.4.1.5.3', '{}',
	'DOS/DDOS攻击', 'DoS/DDoS attacks',
	'应具有防DOS/DDOS攻击设备或技术手段。',
	'Devices or techniques against DoS/DDoS attacks are in place.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“DOS/DDOS攻击”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: DoS/DDoS attacks.', NULL, true),
('003:6.4.1.5.4', 'PAY-FAC-V3.0', '6.4.1.5.4', '{}',
	'网络入侵防范机制', 'Network intrusion prevention',
	'应在网络边界处监视以下攻击行为:端口扫描、强力攻击、木马后门攻击、拒绝服务攻击、缓冲区溢出攻击、IP碎片攻击和网络蠕虫攻击等。当检测到攻击行为时,记录攻击源IP、攻击类型、攻击目的、攻击时间,在发生严重入侵事件时应提供报警。增强要求为:应在系统网络中监视以下攻击行为:端口扫描、强力攻击、木马后门攻击、拒绝服务攻击、缓冲区溢出攻击、IP碎片攻击和网络蠕虫攻击等。',
	'Attacks (port scans, brute force, trojans, DoS, overflows, fragments, worms) are monitored at the boundary; source, type, target and time recorded; alarms on serious intrusions.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络入侵防范机制”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network intrusion prevention.', NULL, true),
('003:6.4.1.6.1', 'PAY-FAC-V3.0', '6.4.1.6.1', '{}',
	'恶意代码防范措施', 'Malicious code prevention',
	'应在网络边界处对恶意代码进行检测和清除。增强要求为:应在系统边界中对恶意代码进行检测和清除。',
	'Malicious code is detected and removed at the network boundary.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“恶意代码防范措施”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Malicious code prevention.', NULL, true),
('003:6.4.1.6.2', 'PAY-FAC-V3.0', '6.4.1.6.2', '{}',
	'定时更新', 'Regular updates',
	'应维护恶意代码库的升级,检测系统的更新。',
	'Malicious code libraries and detection systems are kept up to date.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“定时更新”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Regular updates.', NULL, true),
('003:6.4.1.7.1', 'PAY-FAC-V3.0', '6.4.1.7.1', '{}',
	'设备登录设置', 'Device login',
	'应对登录网络设备的用户进行身份鉴别。 网络设备用户的标识应唯一。主要网络设备宜对同一用户选择两种或两种以上组合的鉴别技术来进行身份鉴别。 增强要求为:主要网络设备应对同一用户选择两种或两种以上组合的鉴别技术来进行身份鉴别,网络设备用户的身份鉴别信息至少应有一种是不可伪造的。',
	'Users logging in to network devices are authenticated with unique identities; main devices use two or more authentication techniques.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“设备登录设置”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Device login.', NULL, true),
('003:6.4.1.7.2', 'PAY-FAC-V3.0', '6.4.1.7.2', '{}',
	'设备登录口令安全性', 'Device password security',
	'身份鉴别信息应具有不易被冒用的特点,口令应有复杂度要求并定期更换。',
	'Device credentials are hard to impersonate; passwords are complex and changed regularly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“设备登录口令安全性”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Device password security.', NULL, true),
('003:6.4.1.7.3', 'PAY-FAC-V3.0', '6.4.1.7.3', '{A11}',
	'登录地址限制', 'Login address restriction',
	'应对网络设备的管理员登录地址进行限制。',
	'Two or more authentication techniques for administrative users; login addresses of administrators restricted.',
	'automated', NULL, 'compliance checks admin_strong_auth, hba_superuser_wide, hba_no_trust (pg_hba_file_rules)',
	'管理用户仅通过 hostssl 的 cert 或 cert+scram 认证登录，并在 pg_hba.conf 中限制其登录地址；删除 trust 与 0.0.0.0/0 超级用户规则。',
	'Administrators connect only over hostssl with cert (or cert plus scram) from restricted addresses in pg_hba.conf; remove trust lines and superuser lines open to 0.0.0.0/0.', NULL, true),
('003:6.4.1.7.4', 'PAY-FAC-V3.0', '6.4.1.7.4', '{}',
	'远程管理安全', 'Secure remote management',
	'当对网络设备进行远程管理时,应采取必要措施防止鉴别信息在网络传输过程中被窃听。',
	'Remote management protects authentication information from eavesdropping in transit.',
	'automated', NULL, 'compliance checks ssl_enabled, ssl_protocol, ssl_ciphers, hba_batch_clientcert',
	'设置 ssl = on、ssl_min_protocol_version = ''TLSv1.2''、强密码套件（如 HIGH:!aNULL:!MD5:!3DES:!RC4）；批量客户端在 pg_hba.conf 中使用 hostssl ... cert 或 clientcert=verify-full。',
	'Set ssl = on, ssl_min_protocol_version = ''TLSv1.2'', strong ciphers (e.g. HIGH:!aNULL:!MD5:!3DES:!RC4); batch clients use hostssl ... cert or clientcert=verify-full in pg_hba.conf.', 'related requirement digest ids: A12', true),
('003:6.4.1.7.5', 'PAY-FAC-V3.0', '6.4.1.7.5', '{A3}',
	'设备用户设置策略', 'Device user policy',
	'应具有登录失败处理功能,可采取结束会话、限制非法登录次数和当网络登录连接超时自动退出等措施。',
	'Login failure handling: limit failed attempts, end session, lock out, auto logout.',
	'automated', NULL, 'auth: failed-login lockout (finsec.auth_state(), finsec.unlock_role(); docs/auth.md)',
	'设置 finsec.max_auth_failures（如 5）、finsec.auth_failure_window、finsec.lockout_duration（如 30min）、finsec.auth_failure_delay，由管理员用 finsec.unlock_role() 解锁。',
	'Set finsec.max_auth_failures (e.g. 5), finsec.auth_failure_window, finsec.lockout_duration (e.g. 30min) and finsec.auth_failure_delay; administrators unlock with finsec.unlock_role().', NULL, true),
('003:6.4.1.7.6', 'PAY-FAC-V3.0', '6.4.1.7.6', '{}',
	'权限分离', 'Separation of privileges',
	'应实现设备特权用户的权限分离。',
	'Privileges of device privileged users are separated.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“权限分离”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Separation of privileges.', NULL, true),
('003:6.4.1.7.7', 'PAY-FAC-V3.0', '6.4.1.7.7', '{}',
	'最小化服务', 'Minimal services',
	'应实现设备的最小服务配置,并对配置文件进行定期离线备份。',
	'Devices run a minimal service configuration; configuration files are backed up offline regularly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“最小化服务”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Minimal services.', NULL, true),
('003:6.4.1.8.1', 'PAY-FAC-V3.0', '6.4.1.8.1', '{}',
	'网络设备运维手册', 'Network operations manual',
	'应建立网络安全管理制度,对网络安全配置、日志保存时间、安全策略、升级与打补丁、口令更新周期等方面做出规定。应保证所有与外部系统的连接均得到授权和批准。应定期检查违反规定拨号上网或其他违反网络安全策略的行为。',
	'A network security policy covers configuration, log retention, policies, patching and password change periods; all external connections are authorised; violations are checked regularly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络设备运维手册”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network operations manual.', NULL, true),
('003:6.4.1.8.2', 'PAY-FAC-V3.0', '6.4.1.8.2', '{}',
	'定期补丁安装', 'Regular patching',
	'应根据厂家提供的软件升级版本对网络设备进行更新,并在更新前对现有的重要文件进行备份。',
	'Network devices are updated to vendor releases after backing up important files.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“定期补丁安装”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Regular patching.', NULL, true),
('003:6.4.1.8.3', 'PAY-FAC-V3.0', '6.4.1.8.3', '{}',
	'漏洞扫描', 'Vulnerability scanning',
	'应定期对网络系统进行漏洞扫描,对发现的网络系统安全漏洞进行及时的修补。',
	'Network systems are scanned for vulnerabilities regularly and the findings fixed promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“漏洞扫描”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Vulnerability scanning.', NULL, true),
('003:6.4.1.8.4', 'PAY-FAC-V3.0', '6.4.1.8.4', '{}',
	'网络数据传输加密', 'Encryption of network transmission',
	'当对服务器进行远程管理时,应采取必要措施,防止鉴别信息在网络传输过程中被窃听。',
	'Remote management of servers protects authentication information from eavesdropping in transit.',
	'automated', NULL, 'compliance checks ssl_enabled, ssl_protocol, ssl_ciphers, hba_batch_clientcert',
	'设置 ssl = on、ssl_min_protocol_version = ''TLSv1.2''、强密码套件（如 HIGH:!aNULL:!MD5:!3DES:!RC4）；批量客户端在 pg_hba.conf 中使用 hostssl ... cert 或 clientcert=verify-full。',
	'Set ssl = on, ssl_min_protocol_version = ''TLSv1.2'', strong ciphers (e.g. HIGH:!aNULL:!MD5:!3DES:!RC4); batch clients use hostssl ... cert or clientcert=verify-full in pg_hba.conf.', 'related requirement digest ids: A12', true),
('003:6.4.1.9.1', 'PAY-FAC-V3.0', '6.4.1.9.1', '{}',
	'网络安全管理人员配备', 'Network security staff',
	'应指定专人对网络进行管理,负责运行日志、网络监控记录的日常维护和报警信息分析和处理工作。',
	'Designated staff manage the network, its logs, monitoring records and alarms.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全管理人员配备”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security staff.', NULL, true),
('003:6.4.1.9.2', 'PAY-FAC-V3.0', '6.4.1.9.2', '{}',
	'网络安全管理人员责任划分规则', 'Network security responsibilities',
	'应制定文件明确网络安全管理岗位的职责、分工和技能要求。',
	'Documents define the duties, division of work and skills of network security posts.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全管理人员责任划分规则”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security responsibilities.', NULL, true),
('003:6.4.1.9.3', 'PAY-FAC-V3.0', '6.4.1.9.3', '{}',
	'网络安全关键岗位人员管理', 'Key network security posts',
	'应从内部人员中选拔从事关键岗位的人员,并签署岗位安全协议。 应对关键岗位的人员进行全面、严格的安全审查和技能考核。',
	'Key posts are filled from internal staff who sign security agreements and pass security and skill checks.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全关键岗位人员管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Key network security posts.', NULL, true),
('003:6.4.2.1.1', 'PAY-FAC-V3.0', '6.4.2.1.1', '{A4,A11}',
	'系统与应用管理员用户设置', 'System and application administrator accounts',
	'应对登录操作系统和数据库系统的用户进行身份标识和鉴别。应为操作系统和数据库系统的不同用户分配不同的用户名,确保用户名具有唯一性。 宜采用两种或两种以上组合的鉴别技术对管理用户进行身份鉴别。 增强要求为:应设置鉴别警示信息,描述未授权访问可能导致的后果; 应采用两种或两种以上组合的鉴别技术对管理用户进行身份鉴别,并且身份鉴别信息至少有一种是不可伪造的。',
	'Unique user identities; no shared, default, surplus or expired accounts; rename defaults. Two or more authentication techniques for administrative users; login addresses of administrators restricted.',
	'automated', NULL, 'compliance check default_accounts, inactive_roles (docs/compliance.md); compliance checks admin_strong_auth, hba_superuser_wide, hba_no_trust (pg_hba_file_rules)',
	'删除或禁用多余、过期、共享和默认账户（ALTER ROLE ... NOLOGIN；DROP ROLE），为每人建立独立登录角色。管理用户仅通过 hostssl 的 cert 或 cert+scram 认证登录，并在 pg_hba.conf 中限制其登录地址；删除 trust 与 0.0.0.0/0 超级用户规则。',
	'Drop or disable surplus, expired, shared and default accounts (ALTER ROLE ... NOLOGIN; DROP ROLE); give each person a login role of their own. Administrators connect only over hostssl with cert (or cert plus scram) from restricted addresses in pg_hba.conf; remove trust lines and superuser lines open to 0.0.0.0/0.', NULL, true),
('003:6.4.2.1.2', 'PAY-FAC-V3.0', '6.4.2.1.2', '{}',
	'系统与应用管理员口令安全性', 'Administrator password security',
	'操作系统和数据库系统管理用户身份标识应具有不易被冒用的特点,口令应有复杂度要求并定期更换。',
	'Operating system and database administrator identities are hard to impersonate; passwords are complex and changed regularly.',
	'automated', NULL, 'auth: finsec.password_min_length, finsec.password_min_classes, user-name check at CREATE/ALTER ROLE (docs/auth.md); auth: finsec.password_max_age, VALID UNTIL enforcement (docs/auth.md)',
	'设置 finsec.password_min_length = 8、finsec.password_min_classes = 3（ALTER SYSTEM SET ...; SELECT pg_reload_conf();），并确保 finsec 已在 shared_preload_libraries 中加载。设置 finsec.password_max_age（普通账户不超过 6 个月，应用账户不超过 3 个月），为每个登录角色设置 VALID UNTIL。',
	'Set finsec.password_min_length = 8 and finsec.password_min_classes = 3 (ALTER SYSTEM SET ...; SELECT pg_reload_conf();) with finsec in shared_preload_libraries. Set finsec.password_max_age (at most 6 months, 3 months for application accounts) and give every login role a VALID UNTIL.', 'related requirement digest ids: A1, A2', true),
('003:6.4.2.1.3', 'PAY-FAC-V3.0', '6.4.2.1.3', '{A3}',
	'登录策略', 'Login policy',
	'应启用登录失败处理功能,可采取结束会话、限制非法登录次数和自动退出等措施。',
	'Login failure handling: limit failed attempts, end session, lock out, auto logout.',
	'automated', NULL, 'auth: failed-login lockout (finsec.auth_state(), finsec.unlock_role(); docs/auth.md)',
	'设置 finsec.max_auth_failures（如 5）、finsec.auth_failure_window、finsec.lockout_duration（如 30min）、finsec.auth_failure_delay，由管理员用 finsec.unlock_role() 解锁。',
	'Set finsec.max_auth_failures (e.g. 5), finsec.auth_failure_window, finsec.lockout_duration (e.g. 30min) and finsec.auth_failure_delay; administrators unlock with finsec.unlock_role().', NULL, true),
('003:6.4.2.2.1', 'PAY-FAC-V3.0', '6.4.2.2.1', '{A6}',
	'访问控制范围', 'Scope of access control',
	'应启用访问控制功能,依据安全策略控制用户对资源的访问。应根据管理用户的角色分配权限,实现管理用户的权限分离,仅授予管理用户所需的最小权限。 应实现操作系统和数据库系统特权用户的权限分离。 增强要求为:在系统对用户进行身份鉴别时,系统与用户之间应能够建立一条安全的信息传输路径; 在用户对系统进行访问时,系统与用户之间应能够建立一条安全的信息传输路径。',
	'Separation of duties: security officer not also DBA/sysadmin; developers not operators; least privilege; privileged users separated.',
	'automated', NULL, 'finsec roles (docs/security-model.md); compliance checks duty_conflicts, superusers, privileged_attributes',
	'撤销登录角色上相互冲突的职责（REVOKE finsec_admin FROM ...），超级用户仅保留引导角色，开发与运维角色分离。',
	'Revoke conflicting duties from login roles (REVOKE finsec_admin FROM ...), keep only the bootstrap superuser, separate developers from operators.', NULL, true),
('003:6.4.2.2.2', 'PAY-FAC-V3.0', '6.4.2.2.2', '{}',
	'主机信任关系', 'Host trust relationships',
	'应避免不必要的主机信任关系。',
	'Unnecessary host trust relationships are avoided.',
	'automated', NULL, 'compliance checks admin_strong_auth, hba_superuser_wide, hba_no_trust (pg_hba_file_rules)',
	'管理用户仅通过 hostssl 的 cert 或 cert+scram 认证登录，并在 pg_hba.conf 中限制其登录地址；删除 trust 与 0.0.0.0/0 超级用户规则。',
	'Administrators connect only over hostssl with cert (or cert plus scram) from restricted addresses in pg_hba.conf; remove trust lines and superuser lines open to 0.0.0.0/0.', 'related requirement digest ids: A11', true),
('003:6.4.2.2.3', 'PAY-FAC-V3.0', '6.4.2.2.3', '{A4}',
	'默认过期用户', 'Default and expired users',
	'应及时删除多余的、过期的用户,避免共享用户的存在。应严格限制默认用户的访问权限,重命名系统默认用户,修改这些用户的默认口令。',
	'Unique user identities; no shared, default, surplus or expired accounts; rename defaults.',
	'automated', NULL, 'compliance check default_accounts, inactive_roles (docs/compliance.md)',
	'删除或禁用多余、过期、共享和默认账户（ALTER ROLE ... NOLOGIN；DROP ROLE），为每人建立独立登录角色。',
	'Drop or disable surplus, expired, shared and default accounts (ALTER ROLE ... NOLOGIN; DROP ROLE); give each person a login role of their own.', NULL, true),
('003:6.4.2.3.1', 'PAY-FAC-V3.0', '6.4.2.3.1', '{U1,U6}',
	'日志信息', 'Log information',
	'审计范围应覆盖到服务器和重要客户端上的每个操作系统用户和数据库用户。 审计内容应包括重要用户行为、系统资源的异常使用和重要系统命令的使用等系统内重要的安全相关事件。审计记录应包括事件的日期、时间、类型、主体标识、客体标识和结果等。 增强要求为:应能够根据信息系统的统一安全策略,实现集中审计。',
	'Each record: date, time, user, event type, subject, object, success/result, description, origin. Audit covers user privileges, important user behaviour and important system commands of every DB user.',
	'automated', NULL, 'audit ledger row format (docs/audit.md); ledger records DDL, GRANT/REVOKE, roles, ALTER SYSTEM (docs/audit.md); compliance check log_ddl',
	'使用 finsec 审计账本（finsec.audit_event），其记录含日期时间、用户、事件类型、主客体、结果、描述和来源。确认 finsec 已预加载且账本记录 DDL、授权与 ALTER SYSTEM；设置 log_statement = ''ddl''。',
	'Use the finsec audit ledger (finsec.audit_event): each record has date-time, user, event type, subject, object, result, description and origin. Check finsec is preloaded and the ledger records DDL, grants and ALTER SYSTEM; set log_statement = ''ddl''.', NULL, true),
('003:6.4.2.3.2', 'PAY-FAC-V3.0', '6.4.2.3.2', '{U2}',
	'日志权限和保护', 'Log permissions and protection',
	'应保护审计记录,避免受到未预期的删除、修改或覆盖等。 宜保护审计进程,避免受到未预期的中断。增强要求为:应保护审计进程,避免受到未预期的中断。',
	'Records protected from deletion, modification, overwrite; the audit process cannot be interrupted alone.',
	'automated', NULL, 'append-only audit ledger with hash chain, finsec.audit_verify() (docs/audit.md); compliance check ledger_verified',
	'定期运行 finsec.audit_verify() 并确认结果无误。',
	'Run finsec.audit_verify() regularly and check its result.', NULL, true),
('003:6.4.2.3.3', 'PAY-FAC-V3.0', '6.4.2.3.3', '{}',
	'系统信息分析', 'System log analysis',
	'应能够根据记录数据进行分析,并生成审计报表。',
	'Recorded data are analysed and audit reports produced.',
	'manual', NULL, 'monthly audit analysis report finsec.report_audit() (docs/compliance.md)',
	'至少每月运行 finsec.report_audit() 分析日志与审计数据并形成书面报告。',
	'At least monthly, run finsec.report_audit() to analyse the logs and audit data and write the report.', 'related requirement digest ids: U11', true),
('003:6.4.2.4.1', 'PAY-FAC-V3.0', '6.4.2.4.1', '{}',
	'系统备份', 'System backup',
	'应具有系统备份或系统重要文件备份。',
	'The system or its important files are backed up.',
	'automated', NULL, 'backup register finsec.record_backup(); compliance checks backup_schedule, wal_archiving',
	'每天增量、每周全量备份并以 finsec.record_backup() 登记（如 pgBackRest 钩子），开启 WAL 归档。',
	'Take daily incremental and weekly full backups and record them with finsec.record_backup() (e.g. from a pgBackRest hook); enable WAL archiving.', 'related requirement digest ids: B2', true),
('003:6.4.2.4.2', 'PAY-FAC-V3.0', '6.4.2.4.2', '{}',
	'故障恢复策略', 'Fault recovery strategy',
	'应具备各种主机故障恢复策略。',
	'Recovery strategies exist for every kind of host failure.',
	'manual', NULL, 'backup register: finsec.record_backup(), record_restore_test(); compliance checks backup_schedule, restore_tested',
	'登记每次备份及保存期，每季度做一次恢复测试并以 finsec.record_restore_test() 记录。',
	'Record each backup with its retention, test a restore every quarter and record it with finsec.record_restore_test().', 'related requirement digest ids: B4', true),
('003:6.4.2.4.3', 'PAY-FAC-V3.0', '6.4.2.4.3', '{W7}',
	'磁盘空间安全', 'Disk space safety',
	'应对主机磁盘空间进行合理规划,确保磁盘空间使用安全。',
	'Disk space planned; CPU, disk and memory monitored.',
	'manual', NULL, 'monitor data and WAL disk usage (docs/monitor.md)',
	'监控数据与 WAL 目录磁盘使用并规划容量。',
	'Monitor data and WAL disk usage and plan capacity.', NULL, true),
('003:6.4.2.4.4', 'PAY-FAC-V3.0', '6.4.2.4.4', '{}',
	'主机安全加固', 'Host hardening',
	'应对主机进行安全加固。',
	'Hosts are security-hardened.',
	'automated', NULL, 'compliance self-check (this catalog) as the database security baseline (docs/compliance.md)',
	'以本目录的自动检查作为数据库安全配置基线：运行 SELECT * FROM finsec.compliance_check() 并修复 fail 项。',
	'Use this catalog''s automated checks as the database security baseline: run SELECT * FROM finsec.compliance_check() and fix every fail.', 'related requirement digest ids: A18', true),
('003:6.4.2.5.1', 'PAY-FAC-V3.0', '6.4.2.5.1', '{D5,D10}',
	'剩余信息保护', 'Residual information protection',
	'应保证操作系统和数据库系统用户的鉴别信息所在的存储空间,被释放或再分配给其他用户前得到完全清除,无论这些信息是存放在硬盘上还是在内存中。应确保系统内的文件、目录和数据库记录等资源所在的存储空间被释放或重新分配给其他用户前得到完全清除。',
	'Residual information: memory holding credentials/keys cleared before reuse. Storage of freed database records cleared before reuse.',
	'manual', NULL, 'C code zeroizes key and credential buffers (docs/keyring.md); crypto-shredding finsec.protect_shred(); VACUUM after purge (docs/protected-data.md)',
	'由 finsec 的 C 代码在释放前清零密钥与口令缓冲区；收集代码审查或测评报告作为证据。删除敏感数据后执行密钥粉碎（finsec.protect_shred()）并 VACUUM。',
	'finsec''s C code zeroes key and credential buffers before release; collect the code review or assessment report as evidence. After deleting sensitive data, crypto-shred (finsec.protect_shred()) and VACUUM.', NULL, true),
('003:6.4.2.6.1', 'PAY-FAC-V3.0', '6.4.2.6.1', '{U13}',
	'入侵防范记录', 'Intrusion prevention records',
	'宜能够检测到对重要服务器进行入侵的行为,能够记录入侵的源IP、攻击的类型、攻击的目的、攻击的时间,并在发生严重入侵事件时提供报警。宜能够对重要程序的完整性进行检测,并在检测到完整性受到破坏后具有恢复的措施。增强要求为:应能够检测到对重要服务器进行入侵的行为,能够记录入侵的源IP、攻击的类型、攻击的目的、攻击的时间,并在发生严重入侵事件时提供报警;应能够对重要程序的完整性进行检测,并在检测到完整性受到破坏后具有恢复的措施。',
	'Integrity of important programs detected.',
	'automated', NULL, 'finsec.status(): hash of finsec''s function definitions and library; compliance check finsec_components',
	'运行 SELECT * FROM finsec.status() 确认所有组件正常，如有篡改则重新安装扩展。',
	'Run SELECT * FROM finsec.status() and check every component is ok; reinstall the extension if it was tampered with.', NULL, true),
('003:6.4.2.6.2', 'PAY-FAC-V3.0', '6.4.2.6.2', '{}',
	'关闭服务和端口', 'Unneeded services and ports closed',
	'应关闭系统不必要的服务和端口。',
	'Unnecessary services and ports of the system are closed.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“关闭服务和端口”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Unneeded services and ports closed.', NULL, true),
('003:6.4.2.6.3', 'PAY-FAC-V3.0', '6.4.2.6.3', '{}',
	'最小安装原则', 'Minimal installation',
	'操作系统应遵循最小安装的原则,仅安装需要的组件和应用程序,并通过设置升级服务器等方式保持系统补丁及时得到更新。',
	'The operating system is minimally installed and patched promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“最小安装原则”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Minimal installation.', NULL, true),
('003:6.4.2.7.1', 'PAY-FAC-V3.0', '6.4.2.7.1', '{}',
	'防范软件安装部署', 'Anti-malware deployment',
	'应至少在生产系统中的服务器安装防恶意代码软件。',
	'At least the production servers run anti-malware software.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“防范软件安装部署”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Anti-malware deployment.', NULL, true),
('003:6.4.2.7.2', 'PAY-FAC-V3.0', '6.4.2.7.2', '{}',
	'病毒库定时更新', 'Virus definition updates',
	'应及时更新防恶意代码软件版本和恶意代码库。',
	'Anti-malware software and its definitions are updated promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“病毒库定时更新”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Virus definition updates.', NULL, true),
('003:6.4.2.7.3', 'PAY-FAC-V3.0', '6.4.2.7.3', '{}',
	'防范软件统一管理', 'Central anti-malware management',
	'应支持防范软件的统一管理。',
	'Anti-malware software is managed centrally.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“防范软件统一管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Central anti-malware management.', NULL, true),
('003:6.4.2.8.1', 'PAY-FAC-V3.0', '6.4.2.8.1', '{A11}',
	'连接控制', 'Connection control',
	'应通过设定终端接入方式、网络地址范围等条件限制终端登录。 应根据安全策略设置登录终端的操作超时锁定。',
	'Two or more authentication techniques for administrative users; login addresses of administrators restricted.',
	'automated', NULL, 'compliance checks admin_strong_auth, hba_superuser_wide, hba_no_trust (pg_hba_file_rules)',
	'管理用户仅通过 hostssl 的 cert 或 cert+scram 认证登录，并在 pg_hba.conf 中限制其登录地址；删除 trust 与 0.0.0.0/0 超级用户规则。',
	'Administrators connect only over hostssl with cert (or cert plus scram) from restricted addresses in pg_hba.conf; remove trust lines and superuser lines open to 0.0.0.0/0.', NULL, true),
('003:6.4.2.8.2', 'PAY-FAC-V3.0', '6.4.2.8.2', '{W2,A13}',
	'资源监控和预警', 'Resource monitoring and warning',
	'应对重要服务器进行监视,包括监视服务器的CPU、硬盘、内存、网络等资源的使用情况。应限制单个用户对系统资源的最大或最小使用限度。应能够对系统的服务水平降低到预先规定的最小值进行检测和报警。',
	'Service quality below the lowest acceptable level raises a warning; service-level degradation detected. Limits on each user''s use of system resources; service priorities.',
	'automated', NULL, 'monitor QoS rules (docs/monitor.md); compliance check resource_limits, connection_limits',
	'配置服务质量监控规则，在低于最低可接受水平时告警。为应用角色设置 statement_timeout、temp_file_limit、work_mem（ALTER ROLE ... SET ...）及 CONNECTION LIMIT。',
	'Configure QoS monitoring rules that warn below the lowest acceptable level. Set statement_timeout, temp_file_limit and work_mem per application role (ALTER ROLE ... SET ...) and a CONNECTION LIMIT.', NULL, true),
('003:6.4.2.9.1', 'PAY-FAC-V3.0', '6.4.2.9.1', '{}',
	'主机运维手册', 'Host operations manual',
	'应建立系统安全管理制度,对系统安全策略、安全配置、日志管理和日常操作流程等方面做出具体规定。',
	'A system security policy defines security policies, configuration, log management and daily operating procedures.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“主机运维手册”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Host operations manual.', NULL, true),
('003:6.4.2.9.2', 'PAY-FAC-V3.0', '6.4.2.9.2', '{}',
	'漏洞扫描', 'Vulnerability scanning',
	'应定期进行漏洞扫描,对发现的系统安全漏洞及时进行修补。',
	'Systems are scanned for vulnerabilities regularly and the findings fixed promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“漏洞扫描”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Vulnerability scanning.', NULL, true),
('003:6.4.2.9.3', 'PAY-FAC-V3.0', '6.4.2.9.3', '{}',
	'系统补丁', 'System patches',
	'应具有主机系统补丁安装方案或制度,并根据方案或制度及时更新系统补丁,在安装系统补丁前,首先在测试环境中测试通过,并对重要文件进行备份后,方可实施系统补丁程序的安装。',
	'A patching plan exists; patches are tested first and important files backed up before installation.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“系统补丁”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: System patches.', NULL, true),
('003:6.4.2.9.4', 'PAY-FAC-V3.0', '6.4.2.9.4', '{U7}',
	'操作日志管理', 'Operation log management',
	'应依据操作手册对系统进行维护,详细记录操作日志,包括重要的日常操作、运行维护记录、参数的设置和修改等内容,严禁进行未经授权的操作。应定期对运行日志和审计数据进行分析,以便及时发现异常行为。',
	'Operation logs record parameter settings and their changes.',
	'manual', NULL, 'ledger records setting changes (docs/audit.md)',
	'参数修改通过 ALTER SYSTEM 进行并由账本记录；查阅账本中的设置变更事件。',
	'Change settings with ALTER SYSTEM so the ledger records them; review the ledger''s setting-change events.', NULL, true),
('003:6.4.2.10.1', 'PAY-FAC-V3.0', '6.4.2.10.1', '{}',
	'主机安全管理人员配备', 'Host security staff',
	'应指定专人对系统进行管理,划分系统管理员角色,明确各个角色的权限、责任和风险,权限设定应当遵循最小授权原则。',
	'Designated staff manage the system; administrator roles are divided with least privilege.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“主机安全管理人员配备”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Host security staff.', NULL, true),
('003:6.4.2.10.2', 'PAY-FAC-V3.0', '6.4.2.10.2', '{}',
	'主机安全管理人员责任划分规则', 'Host security responsibilities',
	'应制定文件明确主机管理岗位的职责、分工和技能要求。',
	'Documents define the duties, division of work and skills of host administration posts.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“主机安全管理人员责任划分规则”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Host security responsibilities.', NULL, true),
('003:6.4.2.10.3', 'PAY-FAC-V3.0', '6.4.2.10.3', '{}',
	'主机安全关键岗位人员管理', 'Key host security posts',
	'应从内部人员中选拔从事关键岗位的人员,并签署岗位安全协议。 应对关键岗位的人员进行全面、严格的安全审查和技能考核。',
	'Key posts are filled from internal staff who sign security agreements and pass security and skill checks.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“主机安全关键岗位人员管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Key host security posts.', NULL, true),
('003:6.4.3.1.1', 'PAY-FAC-V3.0', '6.4.3.1.1', '{}',
	'系统与普通用户设置', 'System and ordinary users',
	'应提供专用的登录控制模块对登录用户进行身份标识和鉴别,提供系统管理员和普通用户的设置功能。',
	'A dedicated login module identifies and authenticates users, with administrator and ordinary user settings.',
	'automated', NULL, 'compliance check default_accounts, inactive_roles (docs/compliance.md)',
	'删除或禁用多余、过期、共享和默认账户（ALTER ROLE ... NOLOGIN；DROP ROLE），为每人建立独立登录角色。',
	'Drop or disable surplus, expired, shared and default accounts (ALTER ROLE ... NOLOGIN; DROP ROLE); give each person a login role of their own.', 'related requirement digest ids: A4', true),
('003:6.4.3.1.2', 'PAY-FAC-V3.0', '6.4.3.1.2', '{}',
	'系统与普通用户口令安全性', 'User password security',
	'系统与普通用户口令应具有一定的复杂度。',
	'Passwords of system and ordinary users have a certain complexity.',
	'automated', NULL, 'auth: finsec.password_min_length, finsec.password_min_classes, user-name check at CREATE/ALTER ROLE (docs/auth.md)',
	'设置 finsec.password_min_length = 8、finsec.password_min_classes = 3（ALTER SYSTEM SET ...; SELECT pg_reload_conf();），并确保 finsec 已在 shared_preload_libraries 中加载。',
	'Set finsec.password_min_length = 8 and finsec.password_min_classes = 3 (ALTER SYSTEM SET ...; SELECT pg_reload_conf();) with finsec in shared_preload_libraries.', 'related requirement digest ids: A1', true),
('003:6.4.3.1.3', 'PAY-FAC-V3.0', '6.4.3.1.3', '{}',
	'登录访问安全策略', 'Login access policy',
	'应对同一用户采用两种或两种以上组合的鉴别技术实现用户身份鉴别。 增强要求为:应对同一用户采用两种或两种以上组合的鉴别技术实现用户身份鉴别,其中一种是不可伪造的。',
	'Two or more authentication techniques are combined for the same user (enhanced: one of them unforgeable).',
	'automated', NULL, 'compliance checks admin_strong_auth, hba_superuser_wide, hba_no_trust (pg_hba_file_rules)',
	'管理用户仅通过 hostssl 的 cert 或 cert+scram 认证登录，并在 pg_hba.conf 中限制其登录地址；删除 trust 与 0.0.0.0/0 超级用户规则。',
	'Administrators connect only over hostssl with cert (or cert plus scram) from restricted addresses in pg_hba.conf; remove trust lines and superuser lines open to 0.0.0.0/0.', 'related requirement digest ids: A11', true),
('003:6.4.3.1.4', 'PAY-FAC-V3.0', '6.4.3.1.4', '{A3}',
	'非法访问警示和记录', 'Illegal access warnings and records',
	'应提供登录失败处理功能,可采取结束会话、限制非法登录次数和自动退出等措施。',
	'Login failure handling: limit failed attempts, end session, lock out, auto logout.',
	'automated', NULL, 'auth: failed-login lockout (finsec.auth_state(), finsec.unlock_role(); docs/auth.md)',
	'设置 finsec.max_auth_failures（如 5）、finsec.auth_failure_window、finsec.lockout_duration（如 30min）、finsec.auth_failure_delay，由管理员用 finsec.unlock_role() 解锁。',
	'Set finsec.max_auth_failures (e.g. 5), finsec.auth_failure_window, finsec.lockout_duration (e.g. 30min) and finsec.auth_failure_delay; administrators unlock with finsec.unlock_role().', NULL, true),
('003:6.4.3.1.5', 'PAY-FAC-V3.0', '6.4.3.1.5', '{}',
	'客户端鉴别信息安全', 'Client credential security',
	'客户端鉴别信息应不被窃取和冒用。',
	'Client authentication information cannot be stolen or impersonated.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“客户端鉴别信息安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Client credential security.', NULL, true),
('003:6.4.3.1.6', 'PAY-FAC-V3.0', '6.4.3.1.6', '{}',
	'口令有效期限制', 'Password validity limits',
	'应提示客户定期修改口令。应限制系统管理用户的口令有效期。',
	'Customers are prompted to change passwords regularly; the validity of administrators'' passwords is limited.',
	'automated', NULL, 'auth: finsec.password_max_age, VALID UNTIL enforcement (docs/auth.md)',
	'设置 finsec.password_max_age（普通账户不超过 6 个月，应用账户不超过 3 个月），为每个登录角色设置 VALID UNTIL。',
	'Set finsec.password_max_age (at most 6 months, 3 months for application accounts) and give every login role a VALID UNTIL.', 'related requirement digest ids: A2', true),
('003:6.4.3.1.7', 'PAY-FAC-V3.0', '6.4.3.1.7', '{}',
	'限制认证会话时间', 'Authentication session time limit',
	'应对客户端认证会话时间进行限制。',
	'The duration of client authentication sessions is limited.',
	'automated', NULL, 'compliance checks idle_session_timeout, connection_limits (docs/compliance.md)',
	'设置 idle_session_timeout、idle_in_transaction_session_timeout，并为登录角色设置 CONNECTION LIMIT（ALTER ROLE ... CONNECTION LIMIT n）。',
	'Set idle_session_timeout and idle_in_transaction_session_timeout, and give login roles a CONNECTION LIMIT (ALTER ROLE ... CONNECTION LIMIT n).', 'related requirement digest ids: A5', true),
('003:6.4.3.1.8', 'PAY-FAC-V3.0', '6.4.3.1.8', '{}',
	'身份标识唯一性', 'Unique identities',
	'应提供用户身份标识唯一性和鉴别信息复杂度检查功能,保证应用系统中不存在重复用户身份标识,身份鉴别信息不易被冒用。应启用身份鉴别、用户身份标识唯一性检查、用户身份鉴别信息复杂度检查以及登录失败处理功能,并根据安全策略配置相关参数。',
	'Identities are unique and credential complexity checked; authentication, uniqueness, complexity checks and login-failure handling are enabled and configured.',
	'automated', NULL, 'compliance check default_accounts, inactive_roles (docs/compliance.md); auth: finsec.password_min_length, finsec.password_min_classes, user-name check at CREATE/ALTER ROLE (docs/auth.md); auth: failed-login lockout (finsec.auth_state(), finsec.unlock_role(); docs/auth.md)',
	'删除或禁用多余、过期、共享和默认账户（ALTER ROLE ... NOLOGIN；DROP ROLE），为每人建立独立登录角色。设置 finsec.password_min_length = 8、finsec.password_min_classes = 3（ALTER SYSTEM SET ...; SELECT pg_reload_conf();），并确保 finsec 已在 shared_preload_libraries 中加载。设置 finsec.max_auth_failures（如 5）、finsec.auth_failure_window、finsec.lockout_duration（如 30min）、finsec.auth_failure_delay，由管理员用 finsec.unlock_role() 解锁。',
	'Drop or disable surplus, expired, shared and default accounts (ALTER ROLE ... NOLOGIN; DROP ROLE); give each person a login role of their own. Set finsec.password_min_length = 8 and finsec.password_min_classes = 3 (ALTER SYSTEM SET ...; SELECT pg_reload_conf();) with finsec in shared_preload_libraries. Set finsec.max_auth_failures (e.g. 5), finsec.auth_failure_window, finsec.lockout_duration (e.g. 30min) and finsec.auth_failure_delay; administrators unlock with finsec.unlock_role().', 'related requirement digest ids: A4, A1, A3', true),
('003:6.4.3.1.9', 'PAY-FAC-V3.0', '6.4.3.1.9', '{}',
	'及时清除鉴别信息', 'Credentials cleared at session end',
	'会话结束后应及时清除客户端鉴别信息。',
	'Client authentication information is cleared promptly after the session ends.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“及时清除鉴别信息”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Credentials cleared at session end.', NULL, true),
('003:6.4.3.2.1', 'PAY-FAC-V3.0', '6.4.3.2.1', '{}',
	'登录防穷举', 'Brute-force login protection',
	'应提供登录防穷举的措施,如图片验证码等。',
	'Login is protected against exhaustive guessing, e.g. by image captchas.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“登录防穷举”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Brute-force login protection.', NULL, true),
('003:6.4.3.2.2', 'PAY-FAC-V3.0', '6.4.3.2.2', '{}',
	'安全控件', 'Security controls',
	'登录应使用安全控件,并提供第三方检测机构的检测报告。',
	'Login uses a security control with a third-party test report.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全控件”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security controls.', NULL, true),
('003:6.4.3.2.3', 'PAY-FAC-V3.0', '6.4.3.2.3', '{}',
	'使用数字证书', 'Digital certificates',
	'应使用服务器证书。',
	'Server certificates are used.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“使用数字证书”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Digital certificates.', NULL, true),
('003:6.4.3.2.4', 'PAY-FAC-V3.0', '6.4.3.2.4', '{}',
	'独立的支付密码', 'Separate payment password',
	'应提供独立的支付密码。',
	'A separate payment password is provided.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“独立的支付密码”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Separate payment password.', NULL, true),
('003:6.4.3.2.5', 'PAY-FAC-V3.0', '6.4.3.2.5', '{}',
	'网站页面SQL注入防范', 'SQL injection prevention',
	'网站页面应采取防范SQL注入风险的措施。',
	'Web pages take measures against SQL injection.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网站页面SQL注入防范”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: SQL injection prevention.', NULL, true),
('003:6.4.3.2.6', 'PAY-FAC-V3.0', '6.4.3.2.6', '{}',
	'网站页面跨站脚本攻击防范', 'Cross-site scripting prevention',
	'网站页面应采取防范跨站脚本攻击风险的措施。',
	'Web pages take measures against cross-site scripting.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网站页面跨站脚本攻击防范”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Cross-site scripting prevention.', NULL, true),
('003:6.4.3.2.7', 'PAY-FAC-V3.0', '6.4.3.2.7', '{}',
	'网站页面源代码暴露防范', 'Source code exposure prevention',
	'网站页面应采取防范源代码暴露的措施。',
	'Web pages take measures against exposing source code.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网站页面源代码暴露防范”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Source code exposure prevention.', NULL, true),
('003:6.4.3.2.8', 'PAY-FAC-V3.0', '6.4.3.2.8', '{}',
	'网站页面黑客挂马防范', 'Web trojan prevention',
	'应采取防范网站页面黑客挂马的机制和措施。',
	'Mechanisms prevent hackers planting trojans in web pages.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网站页面黑客挂马防范”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Web trojan prevention.', NULL, true),
('003:6.4.3.2.9', 'PAY-FAC-V3.0', '6.4.3.2.9', '{}',
	'网站页面防篡改措施', 'Web tampering prevention',
	'应采取网站页面防篡改措施。',
	'Web pages are protected against tampering.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网站页面防篡改措施”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Web tampering prevention.', NULL, true),
('003:6.4.3.2.10', 'PAY-FAC-V3.0', '6.4.3.2.10', '{}',
	'网站页面防钓鱼', 'Anti-phishing',
	'网站页面应提供防钓鱼网站的防伪信息验证。',
	'Web pages provide anti-counterfeit verification against phishing sites.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网站页面防钓鱼”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Anti-phishing.', NULL, true),
('003:6.4.3.3.1', 'PAY-FAC-V3.0', '6.4.3.3.1', '{A17}',
	'访问权限设置', 'Access permission settings',
	'应提供访问控制功能,依据安全策略控制用户对文件、数据库表等客体的访问。 应由授权主体配置访问控制策略,并严格限制默认用户的访问权限。应授予不同用户为完成各自承担任务所需的最小权限,并在它们之间形成互相制约的关系。',
	'Default accounts'' privileges strictly limited; no privilege escalation; no access to others'' resources.',
	'automated', NULL, 'compliance check public_privileges; RLS on customer tables (docs/security-model.md)',
	'撤销 PUBLIC 的 CREATE 及业务表权限（REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC），对客户数据表启用行级安全。',
	'Revoke PUBLIC CREATE and PUBLIC privileges on business tables (REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC); enable row-level security on customer tables.', NULL, true),
('003:6.4.3.3.2', 'PAY-FAC-V3.0', '6.4.3.3.2', '{}',
	'自主访问控制范围', 'Scope of discretionary access control',
	'访问控制的覆盖范围应包括与资源访问相关的主体、客体及它们之间的操作。',
	'Access control covers the subjects, objects and operations between them.',
	'automated', NULL, 'compliance check public_privileges; RLS on customer tables (docs/security-model.md)',
	'撤销 PUBLIC 的 CREATE 及业务表权限（REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC），对客户数据表启用行级安全。',
	'Revoke PUBLIC CREATE and PUBLIC privileges on business tables (REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC); enable row-level security on customer tables.', 'related requirement digest ids: A17', true),
('003:6.4.3.3.3', 'PAY-FAC-V3.0', '6.4.3.3.3', '{U5}',
	'业务操作日志', 'Business operation log',
	'应具有所有业务操作日志。',
	'Every business operation logged; control of operations on key data.',
	'manual', NULL, 'audit of finsec operations and protected tables (docs/audit.md)',
	'对关键数据表执行 finsec.protect_table() 并由账本记录业务操作。',
	'Protect key data tables with finsec.protect_table() and record business operations in the ledger.', NULL, true),
('003:6.4.3.3.4', 'PAY-FAC-V3.0', '6.4.3.3.4', '{U5}',
	'关键数据操作控制', 'Control of operations on key data',
	'应严格控制用户对关键数据的操作。关键数据如:敏感数据、重要业务数据、系统管理数据等。',
	'Every business operation logged; control of operations on key data.',
	'manual', NULL, 'audit of finsec operations and protected tables (docs/audit.md)',
	'对关键数据表执行 finsec.protect_table() 并由账本记录业务操作。',
	'Protect key data tables with finsec.protect_table() and record business operations in the ledger.', NULL, true),
('003:6.4.3.3.5', 'PAY-FAC-V3.0', '6.4.3.3.5', '{D13}',
	'异常中断防护', 'Protection against abnormal interruption',
	'用户访问异常中断后,应具有防护手段,保证数据不丢失。',
	'No data lost after abnormal interruption; state protected on failure.',
	'automated', NULL, 'compliance checks fsync, full_page_writes, data_checksums, synchronous_commit',
	'设置 fsync = on、full_page_writes = on、synchronous_commit = on，并以 initdb --data-checksums（或 pg_checksums --enable）启用数据校验。',
	'Set fsync = on, full_page_writes = on, synchronous_commit = on, and enable data checksums (initdb --data-checksums or pg_checksums --enable).', NULL, true),
('003:6.4.3.3.6', 'PAY-FAC-V3.0', '6.4.3.3.6', '{A18}',
	'数据库安全配置', 'Database security configuration',
	'应具有数据库安全配置手册,并对数据库进行安全配置。',
	'A database security configuration baseline, applied.',
	'automated', NULL, 'compliance self-check (this catalog) as the database security baseline (docs/compliance.md)',
	'以本目录的自动检查作为数据库安全配置基线：运行 SELECT * FROM finsec.compliance_check() 并修复 fail 项。',
	'Use this catalog''s automated checks as the database security baseline: run SELECT * FROM finsec.compliance_check() and fix every fail.', NULL, true),
('003:6.4.3.4.1', 'PAY-FAC-V3.0', '6.4.3.4.1', '{U1}',
	'日志信息', 'Log information',
	'审计记录的内容至少应包括事件的日期、时间、发起者信息、类型、描述和结果等。',
	'Each record: date, time, user, event type, subject, object, success/result, description, origin.',
	'manual', NULL, 'audit ledger row format (docs/audit.md)',
	'使用 finsec 审计账本（finsec.audit_event），其记录含日期时间、用户、事件类型、主客体、结果、描述和来源。',
	'Use the finsec audit ledger (finsec.audit_event): each record has date-time, user, event type, subject, object, result, description and origin.', NULL, true),
('003:6.4.3.4.2', 'PAY-FAC-V3.0', '6.4.3.4.2', '{}',
	'日志权限和保护', 'Log permissions and protection',
	'应保护审计记录，避免受到未预期的删除、修改或覆盖等。',
	'Application audit records are protected from unexpected deletion, modification or overwriting.',
	'automated', NULL, 'append-only audit ledger with hash chain, finsec.audit_verify() (docs/audit.md); compliance check ledger_verified',
	'定期运行 finsec.audit_verify() 并确认结果无误。',
	'Run finsec.audit_verify() regularly and check its result.', 'related requirement digest ids: U2', true),
('004:3', 'JR/T 0117-2014', '3', '{D9}',
	'术语和定义', 'Terms and definitions',
	'下列术语和定义适用于本文件。3.1征信业务 credit information service对企业、事业单位等组织的信用信息和个人的信用信息进行采集、整理、保存、加工，并向信息使用者提供的活动。3.2征信机构 credit information service agency依法设立的，主要经营征信业务的机构。3.3征信系统 credit information system征信机构与信息提供者协议约定，或者通过互联网、政府信息公开等渠道，对分散在社会各领域的企业和个人信用信息，进行采集、整理、保存和加工而形成的信用信息数据库及相关系统。3.4互联网 internet因特网或其他类似形式的通用性公共计算机通信网络。……',
	'Real-name verification of customers; credit data keyed by ID numbers.',
	'manual', NULL, 'identifier types finsec.cn_resident_id, uscc, cn_mobile (docs/identifiers.md)',
	'客户证件号、统一社会信用代码、手机号使用 finsec 校验类型存储，实名认证流程由业务系统留存记录。',
	'Store resident IDs, unified social credit codes and phone numbers in the finsec validated types; the business system keeps the real-name verification records.', NULL, true),
('004:7.1.1a', 'JR/T 0117-2014', '7.1.1 a', '{}',
	'内部管理制度', 'Internal management rules',
	'应制定信息安全工作的总体方针和安全策略，说明本机构安全工作的总体原则、目标、范围和安全框架等。',
	'An overall information security policy and strategy: principles, goals, scope and framework.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1a-enh', 'JR/T 0117-2014', '7.1.1 a 增强要求', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立征信系统建设工程实施方面的管理制度，明确说明实施过程的控制方法和人员行为准则。',
	'Rules for the implementation of credit system projects.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1b', 'JR/T 0117-2014', '7.1.1 b', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立征信系统建设和运维管理制度，对机房管理、资产安全、设备管理、网络安全和系统安全等方面做出明确规定。',
	'Rules for building and operating the credit system: machine room, assets, equipment, network and system security.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1b-enh', 'JR/T 0117-2014', '7.1.1 b 增强要求', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立密码使用、变更管理及数据备份与恢复等方面的管理制度，对系统运行维护过程中重要环节的审批与操作等做出明确规定。',
	'Rules for password use, change management, and data backup and recovery, with approvals of the important steps of operations.',
	'manual', 'enhanced', 'finsec.change_request / finsec.approve; backup register (docs/compliance.md)',
	'变更前在备份登记中记录一次成功备份，并通过 finsec 变更申请双人复核。',
	'Before a change, record a successful backup in the backup register and have the change double-reviewed through a finsec change request.', 'related requirement digest ids: A16', true),
('004:7.1.1c', 'JR/T 0117-2014', '7.1.1 c', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立征信系统安全审批流程，系统投入运行、网络系统接入等重大事项由信息安全管理负责人审批，并签字确认。',
	'A security approval process: go-live and network connections approved and signed by the information security manager.',
	'manual', NULL, 'finsec.change_request / finsec.approve: a second, different finsec_admin approves (docs/security-model.md)',
	'关键操作（密钥、限额、规则变更）通过 finsec 变更申请，由另一名 finsec_admin 以 finsec.approve() 批准；确保至少两名管理员。',
	'Critical operations (keys, limits, rules) go through finsec change requests approved by a different finsec_admin with finsec.approve(); keep at least two administrators.', 'related requirement digest ids: A7', true),
('004:7.1.1c-enh', 'JR/T 0117-2014', '7.1.1 c 增强要求', '{}',
	'内部管理制度', 'Internal management rules',
	'应按照ISO/IEC 27001:2013的相关要求建立完善的信息安全管理体系。',
	'An information security management system per ISO/IEC 27001:2013.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1d', 'JR/T 0117-2014', '7.1.1 d', '{}',
	'内部管理制度', 'Internal management rules',
	'应对安全管理人员及操作人员执行的重要操作建立操作规程，并进行定期培训。',
	'Operating procedures for important operations of security staff and operators, with regular training.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1e', 'JR/T 0117-2014', '7.1.1 e', '{A7}',
	'内部管理制度', 'Internal management rules',
	'应建立日常故障处理流程，重要岗位应建立双人负责制。',
	'Two-person control for critical operations (key handling, changes).',
	'automated', NULL, 'finsec.change_request / finsec.approve: a second, different finsec_admin approves (docs/security-model.md)',
	'关键操作（密钥、限额、规则变更）通过 finsec 变更申请，由另一名 finsec_admin 以 finsec.approve() 批准；确保至少两名管理员。',
	'Critical operations (keys, limits, rules) go through finsec change requests approved by a different finsec_admin with finsec.approve(); keep at least two administrators.', NULL, true),
('004:7.1.1f', 'JR/T 0117-2014', '7.1.1 f', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立软件开发管理制度，明确说明开发过程的控制方法和人员行为准则。',
	'Software development rules: process controls and code of conduct.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1g', 'JR/T 0117-2014', '7.1.1 g', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立数据管理制度，对数据的存储、访问、使用、展示、备份与恢复、传输及样本数据处理等进行规范。',
	'Data management rules for storage, access, use, display, backup and recovery, transmission and sample data.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1h', 'JR/T 0117-2014', '7.1.1 h', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立外包服务管理、外部人员访问等方面的管理制度，对外部人员在本机构内的活动进行规范化管理。',
	'Rules for outsourcing and access by outside staff.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1i', 'JR/T 0117-2014', '7.1.1 i', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立安全事件及重大事项报告制度，重大信息安全事故应及时向中国人民银行及其派出机构报告。',
	'Reporting of security incidents and major matters; major incidents reported to the People''s Bank of China promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1j', 'JR/T 0117-2014', '7.1.1 j', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立突发事件应急预案制度，有效避免事故造成的危害。',
	'Emergency plans for sudden incidents.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.1k', 'JR/T 0117-2014', '7.1.1 k', '{}',
	'内部管理制度', 'Internal management rules',
	'应建立信息安全检查制度，定期或根据需要（如可能存在安全隐患时）不定期开展安全自查工作，主动接受和配合中国人民银行及其派出机构的安全检查。',
	'Regular security self-inspections, and cooperation with the People''s Bank of China''s inspections.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“内部管理制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Internal management rules.', NULL, true),
('004:7.1.2a', 'JR/T 0117-2014', '7.1.2 a', '{}',
	'安全审计制度', 'Security audit rules',
	'应建立信息安全内部审计制度，定期对可能带来信息安全风险的因素进行审计和评估，个人征信机构每年至少1次，企业征信机构每两年至少1次。',
	'Internal information security audits: personal credit agencies at least yearly, enterprise credit agencies at least every two years.',
	'manual', NULL, 'monthly audit analysis report finsec.report_audit() (docs/compliance.md)',
	'至少每月运行 finsec.report_audit() 分析日志与审计数据并形成书面报告。',
	'At least monthly, run finsec.report_audit() to analyse the logs and audit data and write the report.', 'related requirement digest ids: U11', true),
('004:7.1.2a-enh', 'JR/T 0117-2014', '7.1.2 a 增强要求', '{}',
	'安全审计制度', 'Security audit rules',
	'应定期委托外部专业审计机构，有重点、有计划的开展信息科技总体风险审计、征信系统专项审计。',
	'External professional audits of overall IT risk and of the credit system, regularly.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全审计制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security audit rules.', NULL, true),
('004:7.1.2b', 'JR/T 0117-2014', '7.1.2 b', '{}',
	'安全审计制度', 'Security audit rules',
	'应对安全管理制度的制定和执行情况进行审计，审计内容包括是否按照法律法规和中国人民银行的相关规定建立信息安全管理制度，安全管理制度的执行情况，是否定期对制度进行评审和修订。',
	'Audit of how the security rules are made, executed and reviewed.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全审计制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security audit rules.', NULL, true),
('004:7.1.2b-enh', 'JR/T 0117-2014', '7.1.2 b 增强要求', '{}',
	'安全审计制度', 'Security audit rules',
	'在内部审计和外部审计中发现的重大安全隐患应及时向中国人民银行及其派出机构报告。',
	'Major weaknesses found by audits are reported to the People''s Bank of China promptly.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全审计制度”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security audit rules.', NULL, true),
('004:7.1.2c', 'JR/T 0117-2014', '7.1.2 c', '{U6}',
	'安全审计制度', 'Security audit rules',
	'应对网络安全、主机安全、应用安全和数据安全等技术安全进行审计，审计内容包括安全配置、设备运行状况、网络流量、重要用户行为、系统异常事件以及重要系统命令的使用等。',
	'Audit covers user privileges, important user behaviour and important system commands of every DB user.',
	'automated', NULL, 'ledger records DDL, GRANT/REVOKE, roles, ALTER SYSTEM (docs/audit.md); compliance check log_ddl',
	'确认 finsec 已预加载且账本记录 DDL、授权与 ALTER SYSTEM；设置 log_statement = ''ddl''。',
	'Check finsec is preloaded and the ledger records DDL, grants and ALTER SYSTEM; set log_statement = ''ddl''.', NULL, true),
('004:7.1.2d', 'JR/T 0117-2014', '7.1.2 d', '{U10}',
	'安全审计制度', 'Security audit rules',
	'应对业务操作进行审计，审计内容包括系统接入和注销、用户管理、信息采集和处理、信息加工、信息保存、异议处理、信息跨境流动等。',
	'Business operations audited: access and deregistration, user management, collection, processing, storage, disputes, cross-border flows.',
	'manual', NULL, 'credit capability event types (docs/credit.md)',
	'征信业务操作（接入注销、用户管理、采集加工、保存、异议、跨境）经 finsec 征信函数执行并记入账本。',
	'Credit operations (access, users, collection, processing, storage, disputes, cross-border) go through the finsec credit functions and are recorded in the ledger.', NULL, true),
('004:7.1.2e', 'JR/T 0117-2014', '7.1.2 e', '{U1,U3}',
	'安全审计制度', 'Security audit rules',
	'审计记录应包括事件的日期和时间、用户、事件类型、事件是否成功及其他与审计相关的信息；应保护系统中的审计记录，避免受到未预期的删除、修改或覆盖等，保存期至少半年；纸质版审计记录保存期应不少于三年。',
	'Each record: date, time, user, event type, subject, object, success/result, description, origin. Retention: at least 3 months (002), at least 6 months (004).',
	'automated', NULL, 'audit ledger row format (docs/audit.md); audit retention floor (docs/audit.md); compliance check ledger_retention',
	'使用 finsec 审计账本（finsec.audit_event），其记录含日期时间、用户、事件类型、主客体、结果、描述和来源。设置 finsec.audit_retention 不少于 6 个月（004）/ 3 个月（002）。',
	'Use the finsec audit ledger (finsec.audit_event): each record has date-time, user, event type, subject, object, result, description and origin. Set finsec.audit_retention to at least 6 months (004) / 3 months (002).', NULL, true),
('004:7.2.1', 'JR/T 0117-2014', '7.2.1', '{}',
	'岗位设置', 'Posts',
	'基本要求：a) 应设立安全主管、信息安全管理员岗位，明确安全主管和信息安全管理员的岗位职责。b) 应设立系统管理员、网络管理员、数据库管理员等岗位，并定义各个工作岗位的职责。c) 除科技部门外，其他部门应设置部门计算机安全员。增强要求：a） 应通过制度明确安全管理机构各个部门和岗位的职责、分工和技能要求。b） 应建立数据安全管理组织，明确数据安全管理责任人、数据资产管理人，明确数据安全管理的责任，确保有效落实和推进数据安全的相关工作。',
	'Posts of security officer, information security administrator, system, network and database administrators are set up with defined duties; departments have computer security officers.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“岗位设置”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Posts.', NULL, true),
('004:7.2.2a', 'JR/T 0117-2014', '7.2.2 a', '{}',
	'人员配备', 'Staffing',
	'应配备安全主管、信息安全管理员、系统管理员、网络管理员、数据库管理员等。',
	'A security officer, information security administrator, system, network and database administrators are staffed.',
	'manual', NULL, 'compliance check duty_two_people (finsec_admin, finsec_auditor, finsec_operator)',
	'每项 finsec 职责（finsec_admin、finsec_auditor、finsec_operator）至少授予两名启用的登录角色，互为 A、B 角。',
	'Grant each finsec duty (finsec_admin, finsec_auditor, finsec_operator) to at least two enabled login roles acting as A/B roles.', 'related requirement digest ids: A14', true),
('004:7.2.2a-enh', 'JR/T 0117-2014', '7.2.2 a 增强要求', '{A14}',
	'人员配备', 'Staffing',
	'关键事务岗位，如信息安全管理员、数据库管理员等，应配备至少两人，且互为A、B角共同管理。',
	'Key posts staffed by at least two people acting as A/B roles.',
	'automated', 'enhanced', 'compliance check duty_two_people (finsec_admin, finsec_auditor, finsec_operator)',
	'每项 finsec 职责（finsec_admin、finsec_auditor、finsec_operator）至少授予两名启用的登录角色，互为 A、B 角。',
	'Grant each finsec duty (finsec_admin, finsec_auditor, finsec_operator) to at least two enabled login roles acting as A/B roles.', NULL, true),
('004:7.2.2b', 'JR/T 0117-2014', '7.2.2 b', '{A6}',
	'人员配备', 'Staffing',
	'安全主管不能兼任信息安全管理员、网络管理员、系统管理员、数据库管理员等。',
	'Separation of duties: security officer not also DBA/sysadmin; developers not operators; least privilege; privileged users separated.',
	'automated', NULL, 'finsec roles (docs/security-model.md); compliance checks duty_conflicts, superusers, privileged_attributes',
	'撤销登录角色上相互冲突的职责（REVOKE finsec_admin FROM ...），超级用户仅保留引导角色，开发与运维角色分离。',
	'Revoke conflicting duties from login roles (REVOKE finsec_admin FROM ...), keep only the bootstrap superuser, separate developers from operators.', NULL, true),
('004:7.2.2c', 'JR/T 0117-2014', '7.2.2 c', '{A6}',
	'人员配备', 'Staffing',
	'信息安全管理员不能兼任网络管理员、系统管理员、数据库管理员等。',
	'Separation of duties: security officer not also DBA/sysadmin; developers not operators; least privilege; privileged users separated.',
	'automated', NULL, 'finsec roles (docs/security-model.md); compliance checks duty_conflicts, superusers, privileged_attributes',
	'撤销登录角色上相互冲突的职责（REVOKE finsec_admin FROM ...），超级用户仅保留引导角色，开发与运维角色分离。',
	'Revoke conflicting duties from login roles (REVOKE finsec_admin FROM ...), keep only the bootstrap superuser, separate developers from operators.', NULL, true),
('004:7.2.3', 'JR/T 0117-2014', '7.2.3', '{}',
	'授权和审批', 'Authorisation and approval',
	'基本要求：a） 应根据各个部门和岗位的职责明确授权审批部门及批准人。b） 应针对系统投入运行、网络系统接入、系统变更、重要操作和重要资源的访问等关键活动建立审批流程，由责任人审批后方可进行，对重要活动应建立逐级审批制度。c） 应记录审批过程并保存审批文档。增强要求：a） 应每年审查审批事项，及时更新需授权和审批的项目、审批部门和审批人等信息。',
	'Approvers are defined per post; key activities (go-live, network access, changes, important operations and resources) need recorded approval, escalated for important ones.',
	'manual', NULL, 'finsec.change_request / finsec.approve: a second, different finsec_admin approves (docs/security-model.md)',
	'关键操作（密钥、限额、规则变更）通过 finsec 变更申请，由另一名 finsec_admin 以 finsec.approve() 批准；确保至少两名管理员。',
	'Critical operations (keys, limits, rules) go through finsec change requests approved by a different finsec_admin with finsec.approve(); keep at least two administrators.', 'related requirement digest ids: A7', true),
('004:7.2.4', 'JR/T 0117-2014', '7.2.4', '{}',
	'沟通和合作', 'Communication and cooperation',
	'基本要求：a） 应加强各部门、各岗位之间以及信息安全职能部门内部的合作与沟通。b） 应加强与同业机构、通讯服务商及监管部门的合作与沟通。增强要求：a） 信息安全管理部门应定期召开各职能部门、各岗位人员参加的协调会议，共同协作处理信息安全问题。b） 应加强与供应商、业界专家、专业的安全公司、安全组织的合作与沟通。',
	'Cooperation inside the institution and with peers, carriers, regulators, suppliers and security experts.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“沟通和合作”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Communication and cooperation.', NULL, true),
('004:7.3.1', 'JR/T 0117-2014', '7.3.1', '{}',
	'安全主管', 'Security officer',
	'基本要求：a） 应选派具有较高计算机水平、业务能力和法律素养的人员担任安全主管。b） 安全主管可由信息安全管理部门的相关领导担任，也可指定专人担任，主要履行以下职责:组织落实监管部门信息安全相关管理规定和本机构信息安全保障工作。将征信机构信息安全领导小组讨论形成的安全决策，分解为安全任务部署落实。对信息化建设项目中的安全建设方案、安全技术方案或其他安全方案进行审批。对征信机构内部其他信息安全相关管理事项进行审批。c） 安全主管调离岗位时，应办理交接手续，并履行其调离后的保密义务。增强要求：a） 安全主管应加强信息安全知识的学习和技能的掌握，及时关注国内外信息安全动态，为加强和改进本机构的信息安全管理工作提供合理化建议。',
	'A qualified security officer organises the institution''s information security work.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全主管”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security officer.', NULL, true),
('004:7.3.2', 'JR/T 0117-2014', '7.3.2', '{}',
	'信息安全管理员', 'Information security administrator',
	'基本要求：a） 应选派具有较高计算机水平、业务能力和法律素养的人员担任信息安全管理员。b） 信息安全管理员每年至少进行一次信息安全方面的技术和业务培训。c） 信息安全管理员应履行以下职责：在安全主管的指导下，具体落实各项安全管理工作，并协调各部门计算机安全员开展工作。在安全主管的指导下，组织相关人员审核本机构信息化建设项目中的安全方案，组织实施信息安全项目建设，维护、管理信息安全专用设施。在计算机系统应用开发、技术方案设计和实施、集成等工作中提出安全技术方案并组织实施。负责本机构计算机系统部署上线前的安全自测试方案的审核。……',
	'Qualified information security administrators, trained at least yearly, carry out the security management work.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“信息安全管理员”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Information security administrator.', NULL, true),
('004:7.3.3', 'JR/T 0117-2014', '7.3.3', '{}',
	'部门计算机安全员', 'Department computer security officers',
	'基本要求：a） 各部门的计算机安全员应由较熟悉计算机知识的人员担任，并报信息安全管理部门备案，如有变更应及时通报信息安全管理部门。b） 部门计算机安全员应积极配合信息安全管理员的工作，各部门应优先选派部门计算机安全员参加信息安全技术培训。c） 部门计算机安全员应履行以下职责：负责配合信息安全管理部门完成本部门计算机病毒防治、补丁升级、非法外联防范、系统故障应急处置、移动存储介质管控等工作。全面负责本部门的信息安全管理工作。负责提出本部门信息安全保障需求，及时与信息安全管理部门沟通本部门信息安全情况。做好信息安全通报工作，发现情况及时向信息安全管理部门报告。……',
	'Each department has a registered computer security officer who supports the security administrators.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“部门计算机安全员”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Department computer security officers.', NULL, true),
('004:7.3.4a', 'JR/T 0117-2014', '7.3.4 a', '{A15}',
	'技术支持人员', 'Technical support staff',
	'内部技术支持人员（本机构正式员工，负责或参与征信机构机房环境、网络、计算机系统等建设、运行、维护的人员，如系统管理员、网络管理员、数据库管理员等）在落实征信系统建设和日常运行维护工作过程中，履行以下职责：严格遵守本机构各项安全保密规定和征信系统安全管理相关制度。严格权限访问，未经业务部门书面授权和本部门领导批准，不得擅自修改征信系统应用设置或修改系统生成的任何业务数据。检测和监控机房、网络、安全设备、计算机系统的安全运行状况，定期进行风险评估、应急演练，发现安全隐患或故障及时报告安全主管、信息安全管理员，并及时响应和处置。',
	'DBAs and outside support touch business data only with written, time-limited authorisation, accompanied.',
	'automated', NULL, 'finsec change requests (two-person, expiring) and ledger audit of access (docs/security-model.md)',
	'DBA 和外部支持人员接触业务数据须经书面授权：通过 finsec 变更申请授予有期限的权限，并保留审批记录与陪同记录。',
	'DBAs and outside support touch business data only with written authorisation: time-limited grants through finsec change requests, with the approval and the accompaniment recorded.', NULL, true),
('004:7.3.4a-enh', 'JR/T 0117-2014', '7.3.4 a 增强要求', '{A15}',
	'技术支持人员', 'Technical support staff',
	'外部技术支持人员未经业务部门书面授权和所在部门领导批准，不得擅自接触、查看或修改征信系统的应用设置或相关业务数据等；确需接触、查看或修改时，须取得业务部门书面授权和所在部门领导批准，并且在内部技术人员现场陪同下，方可进行。',
	'DBAs and outside support touch business data only with written, time-limited authorisation, accompanied.',
	'automated', 'enhanced', 'finsec change requests (two-person, expiring) and ledger audit of access (docs/security-model.md)',
	'DBA 和外部支持人员接触业务数据须经书面授权：通过 finsec 变更申请授予有期限的权限，并保留审批记录与陪同记录。',
	'DBAs and outside support touch business data only with written authorisation: time-limited grants through finsec change requests, with the approval and the accompaniment recorded.', NULL, true),
('004:7.3.4b', 'JR/T 0117-2014', '7.3.4 b', '{}',
	'技术支持人员', 'Technical support staff',
	'外部技术支持人员（非本机构人员）应严格履行服务外包合同（协议）中的各项安全承诺，在提供技术服务期间，严格遵守征信机构相关安全规定与操作规程。',
	'Outside support staff keep the security commitments of the outsourcing contract and the institution''s rules.',
	'manual', NULL, 'finsec change requests (two-person, expiring) and ledger audit of access (docs/security-model.md)',
	'DBA 和外部支持人员接触业务数据须经书面授权：通过 finsec 变更申请授予有期限的权限，并保留审批记录与陪同记录。',
	'DBAs and outside support touch business data only with written authorisation: time-limited grants through finsec change requests, with the approval and the accompaniment recorded.', 'related requirement digest ids: A15', true),
('004:7.3.5a', 'JR/T 0117-2014', '7.3.5 a', '{}',
	'业务操作人员', 'Business operators',
	'业务操作人员（指征信机构内部直接使用征信系统进行业务处理的业务部门工作人员，包括业务管理员和一般业务操作人员）应履行以下职责：严格按照征信机构相关业务操作规程操作、使用征信系统及相关数据，严禁各种违规操作。严格按照征信机构信息安全管理相关规定操作、使用征信系统的业务数据，防止征信信息外泄。妥善保管好征信系统的用户账号和密码，并按要求定期更换密码，禁止将账户和密码提供给他人使用。发现征信系统出现异常，及时向部门计算机安全员报告。定期清理业务操作终端业务数据，不得在业务操作终端上安装与业务处理无关的计算机软件和硬件，不得擅自修改征信系统的运行环境参数。',
	'Business operators follow the operating procedures and security rules for the credit system and its data; no irregular operations.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“业务操作人员”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Business operators.', NULL, true),
('004:7.3.5a-enh', 'JR/T 0117-2014', '7.3.5 a 增强要求', '{}',
	'业务操作人员', 'Business operators',
	'业务操作人员应实现A、B角管理。',
	'Business operators work as A/B roles.',
	'automated', 'enhanced', 'compliance check duty_two_people (finsec_admin, finsec_auditor, finsec_operator)',
	'每项 finsec 职责（finsec_admin、finsec_auditor、finsec_operator）至少授予两名启用的登录角色，互为 A、B 角。',
	'Grant each finsec duty (finsec_admin, finsec_auditor, finsec_operator) to at least two enabled login roles acting as A/B roles.', 'related requirement digest ids: A14', true),
('004:7.3.5b', 'JR/T 0117-2014', '7.3.5 b', '{A6}',
	'业务操作人员', 'Business operators',
	'业务操作按照“权限分设、相互制约”原则，严格进行操作角色划分和授权管理；技术支持人员不得兼任业务操作人员。',
	'Separation of duties: security officer not also DBA/sysadmin; developers not operators; least privilege; privileged users separated.',
	'automated', NULL, 'finsec roles (docs/security-model.md); compliance checks duty_conflicts, superusers, privileged_attributes',
	'撤销登录角色上相互冲突的职责（REVOKE finsec_admin FROM ...），超级用户仅保留引导角色，开发与运维角色分离。',
	'Revoke conflicting duties from login roles (REVOKE finsec_admin FROM ...), keep only the bootstrap superuser, separate developers from operators.', NULL, true),
('004:7.3.6', 'JR/T 0117-2014', '7.3.6', '{}',
	'一般计算机用户', 'Ordinary computer users',
	'基本要求：a） 一般计算机用户（指征信机构内部使用接入征信系统网络的计算机及外设的所有人员）应履行以下职责：及时安装计算机病毒防治软件和客户端防护软件，按规定使用移动存储介质，自觉接受部门计算机安全员的指导与管理。不得安装与工作无关的计算机软件和硬件，不得将征信系统相关计算机擅自接入未经授权的网络。b） 未经信息安全管理部门批准和检测的计算机及外设不得接入征信系统网络。增强要求：a） 一般计算机用户不得私自改变计算机用途。b） 一般计算机用户应统一安装、统一升级及更新计算机病毒防治软件。',
	'Users install anti-virus and client protection, use removable media as ruled, install nothing unrelated and connect to no unauthorised network.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“一般计算机用户”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Ordinary computer users.', NULL, true),
('004:7.4.1', 'JR/T 0117-2014', '7.4.1', '{}',
	'系统定级', 'System grading',
	'基本要求：a） 应明确信息系统的边界和安全保护等级。b） 应以书面的形式说明信息系统确定为某个安全保护等级的方法和理由。增强要求：a） 应组织相关部门和有关安全技术专家对信息系统定级结果的合理性和正确性进行论证和审定。',
	'System boundaries and protection level are defined and justified in writing, reviewed by experts.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“系统定级”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: System grading.', NULL, true),
('004:7.4.2', 'JR/T 0117-2014', '7.4.2', '{}',
	'安全方案设计', 'Security design',
	'基本要求：a) 应根据征信系统的安全保护等级选择基本安全措施，依据风险分析的结果补充和调整安全措施。b) 应以书面形式描述对征信系统的安全保护要求、策略和措施等内容，形成系统的安全方案。c) 应对安全方案进行细化，形成能指导征信系统安全建设、安全产品采购和使用的详细设计方案。d) 应组织相关部门和有关安全技术专家对安全设计方案的合理性和正确性进行论证和审定，并且经过征信机构相关领导批准后，正式组织实施。增强要求：a） 应指定和授权专门的部门对征信系统的安全建设进行总体规划，制定近期和远期的安全建设工作计划。b） 应统一考虑安全保障体系的总体安全策略、安全技术框架、安全管理策略、总体建设规划和详细设计方案，并形成配套文件。……',
	'Security measures are chosen by protection level and risk analysis and written into a reviewed security design.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全方案设计”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security design.', NULL, true),
('004:7.4.3', 'JR/T 0117-2014', '7.4.3', '{}',
	'安全产品采购和使用', 'Procurement and use of security products',
	'基本要求：a） 应确保安全产品采购和使用符合国家的有关规定。b） 应确保密码产品采购和使用符合国家密码主管部门的要求。c） 应指定或授权专门的部门负责安全产品的采购。增强要求：a） 应预先对安全产品进行选型测试，确定产品的候选范围。',
	'Security and cryptographic products are procured and used as national rules and the cryptography authority require.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全产品采购和使用”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Procurement and use of security products.', NULL, true),
('004:7.4.4a', 'JR/T 0117-2014', '7.4.4 a', '{}',
	'自行软件开发', 'In-house software development',
	'应确保开发测试环境与实际运行环境物理分开。',
	'Development and test environments are physically separate from production.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“自行软件开发”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: In-house software development.', NULL, true),
('004:7.4.4a-enh', 'JR/T 0117-2014', '7.4.4 a 增强要求', '{}',
	'自行软件开发', 'In-house software development',
	'应制定代码编写安全规范，要求开发人员参照规范编写代码。',
	'Secure coding rules that developers follow.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“自行软件开发”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: In-house software development.', NULL, true),
('004:7.4.4b', 'JR/T 0117-2014', '7.4.4 b', '{D12}',
	'自行软件开发', 'In-house software development',
	'应确保开发人员和测试人员分离，只能使用自制测试数据或已脱密的生产数据进行测试，测试数据和测试结果应受到控制。',
	'Tests use only self-made or de-identified production data.',
	'manual', NULL, 'finsec.deidentified_copy() (docs/credit.md)',
	'测试只使用自制数据或由 finsec.deidentified_copy() 生成的去标识化数据。',
	'Tests use only self-made data or de-identified copies made with finsec.deidentified_copy().', NULL, true),
('004:7.4.4b-enh', 'JR/T 0117-2014', '7.4.4 b 增强要求', '{}',
	'自行软件开发', 'In-house software development',
	'应确保对程序资源库的修改、更新、发布进行授权和批准。',
	'Changes, updates and releases of the program library are authorised and approved.',
	'manual', 'enhanced', 'finsec.change_request / finsec.approve; backup register (docs/compliance.md)',
	'变更前在备份登记中记录一次成功备份，并通过 finsec 变更申请双人复核。',
	'Before a change, record a successful backup in the backup register and have the change double-reviewed through a finsec change request.', 'related requirement digest ids: A16', true),
('004:7.4.4c', 'JR/T 0117-2014', '7.4.4 c', '{}',
	'自行软件开发', 'In-house software development',
	'应确保开发人员不兼任系统管理员或业务操作人员。',
	'Developers are not also system administrators or business operators.',
	'automated', NULL, 'finsec roles (docs/security-model.md); compliance checks duty_conflicts, superusers, privileged_attributes',
	'撤销登录角色上相互冲突的职责（REVOKE finsec_admin FROM ...），超级用户仅保留引导角色，开发与运维角色分离。',
	'Revoke conflicting duties from login roles (REVOKE finsec_admin FROM ...), keep only the bootstrap superuser, separate developers from operators.', 'related requirement digest ids: A6', true),
('004:7.4.4d', 'JR/T 0117-2014', '7.4.4 d', '{}',
	'自行软件开发', 'In-house software development',
	'应确保提供软件设计的相关文档和使用指南，并由专人负责保管。',
	'Design documents and user guides are provided and kept by a designated person.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“自行软件开发”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: In-house software development.', NULL, true),
('004:7.4.5', 'JR/T 0117-2014', '7.4.5', '{}',
	'外包软件开发', 'Outsourced software development',
	'基本要求：a） 应根据开发要求检测软件质量。b） 应确保开发单位提供软件设计的相关文档和使用指南。c） 应在软件安装之前检测软件包中可能存在的恶意代码。d） 应要求开发单位提供软件源代码，并对软件源代码进行“后门”检测。增强要求：a） 应具有第三方检测机构的安全检测报告。b） 应与外包单位签署相关知识产权保护协议和保密协议，不得将系统采用的关键安全技术措施和核心安全功能设计对外公开。',
	'Outsourced software is tested for quality and malicious code; documents and source code are delivered and checked for back doors.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“外包软件开发”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Outsourced software development.', NULL, true),
('004:7.4.6', 'JR/T 0117-2014', '7.4.6', '{}',
	'工程实施', 'Project implementation',
	'基本要求：a） 应指定或授权专门的部门或人员负责工程实施过程的管理。b） 应制定详细的工程实施方案，控制工程实施过程。增强要求：a） 应按照工程实施管理制度的相关要求对工程实施全过程进行管理。',
	'A designated department manages implementation under a detailed plan.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“工程实施”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Project implementation.', NULL, true),
('004:7.4.7', 'JR/T 0117-2014', '7.4.7', '{}',
	'测试验收', 'Testing and acceptance',
	'基本要求：a） 征信系统测试验收应包含安全性测试相关内容。b） 在测试验收前应根据设计方案或合同要求等制订测试验收方案，在测试验收过程中应详细记录测试验收结果，并形成测试验收报告。c） 应组织相关部门和相关人员对系统测试验收报告进行审定，并签字确认。增强要求：a） 应对征信系统测试验收的控制方法和人员行为准则进行书面规定。b） 应指定或授权专门的部门负责系统测试验收的管理，并按照管理规定的要求完成系统测试验收工作。',
	'Acceptance includes security testing, planned, recorded, reported and signed off.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“测试验收”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Testing and acceptance.', NULL, true),
('004:7.4.8', 'JR/T 0117-2014', '7.4.8', '{}',
	'系统交付', 'System delivery',
	'基本要求：a） 应制定征信系统交付清单，并根据交付清单对所交接的设备、软件和文档等进行清点。b） 应对负责征信系统运行维护的技术人员进行相应的技能培训。c） 应确保提供征信系统建设过程中的文档和指导用户进行系统运行维护的文档。增强要求：a） 应对征信系统交付的控制方法和人员行为准则进行书面规定。b） 应指定或授权专门的部门负责征信系统交付的管理工作，并按照管理规定的要求完成征信系统交付工作。',
	'Delivery follows a checklist, with training of operators and complete documentation.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“系统交付”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: System delivery.', NULL, true),
('004:7.4.9', 'JR/T 0117-2014', '7.4.9', '{}',
	'系统备案', 'System filing',
	'基本要求：a） 应指定专门的部门或人员负责管理系统定级的相关材料，并控制这些材料的使用。b） 应将系统等级及相关材料报中国人民银行及其派出机构备案。',
	'Grading materials are managed, and the system grade is filed with the People''s Bank of China.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“系统备案”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: System filing.', NULL, true),
('004:7.4.10', 'JR/T 0117-2014', '7.4.10', '{}',
	'安全规范测评', 'Security assessment',
	'基本要求：a） 征信系统上线运行前，必须进行安全规范测评，运行过程中，应至少每两年对系统进行一次安全规范测评，发现不符合相应标准要求的要及时整改。b） 个人征信机构应选择具有国家信息安全等级保护测评资质的机构进行安全规范测评，测评报告应在报告出具后20日内上报中国人民银行及其派出机构。c） 企业征信机构可以选择具有国家信息安全等级保护测评资质的机构进行安全规范测评，也可以自行测评，测评报告报中国人民银行及其派出机构。增强要求：a） 应在征信系统发生重大变更时及时对系统进行安全规范测评，发现不符合本规范要求的要及时整改。b） 在征信系统运行过程中，应至少每年对系统进行一次安全规范测评，发现不符合本规范要求的要及时整改。……',
	'A security assessment before go-live and at least every two years, by a qualified assessor, reported to the People''s Bank of China.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全规范测评”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security assessment.', NULL, true),
('004:7.4.11', 'JR/T 0117-2014', '7.4.11', '{}',
	'外包及安全服务商管理', 'Outsourcing and security service providers',
	'基本要求：a） 应与选定的外包及安全服务商签订与安全相关的协议，明确约定相关责任。b） 应确保选定的外包及安全服务商提供技术支持和服务承诺，必要情况下，应与其签订服务合同。c） 应确保外包服务受托方的系统访问权限受到约束，涉及敏感操作（如输入用户口令等）应由委托方人员进行操作。d） 外包服务的受托方进行现场技术支持服务时，应事先提交计划操作内容。委托方应在现场陪同外包服务人员，核对操作内容并准确记录实际操作内容。外包服务的受托方人员不得查看、复制或带离任何敏感信息。e） 外包服务的受托方应履行服务外包合同（协议）中的各项安全承诺，在提供技术服务期间，应遵守委托方相关安全规定与操作规程。……',
	'Security agreements with providers; their system access is constrained and sensitive operations done by the institution''s staff.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“外包及安全服务商管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Outsourcing and security service providers.', NULL, true),
('004:7.5.1', 'JR/T 0117-2014', '7.5.1', '{}',
	'环境管理', 'Environment management',
	'基本要求：a） 应指定专门的部门或人员定期对机房供配电、空调、温湿度控制等设施进行维护管理。b） 应配备机房安全管理人员，对机房的出入、服务器的开机或关机等工作进行管理。c） 应按照机房安全管理制度的相关要求，对机房物理访问，物品带进、带出机房和机房环境安全等方面进行管理。d） 应加强对办公环境的保密性管理，包括工作人员调离办公室应立即交还该办公室钥匙、工作人员离开座位应确保终端计算机退出登录状态和桌面上没有包含敏感信息的纸质文件等。增强要求：a） 应指定专人每日对环境设备设施进行巡检，并进行记录。',
	'Machine-room power, air conditioning and climate are maintained; room access, equipment and office environment are managed.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“环境管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Environment management.', NULL, true),
('004:7.5.2', 'JR/T 0117-2014', '7.5.2', '{}',
	'资产管理', 'Asset management',
	'基本要求：a） 应编制与征信系统相关的资产清单，包括资产责任部门、重要程度和所处位置等内容。b） 应按照资产安全管理制度的相关要求，明确征信系统资产管理的责任人员或责任部门，并对资产管理和使用的行为进行管理。增强要求：a） 应根据资产的重要程度对资产进行标识管理，根据资产的价值选择相应的管理措施。b） 应对信息分类与标识方法做出规定，并对信息的使用、传输和存储等进行规范化管理。',
	'An asset inventory with owners, importance and location; assets labelled and managed by importance.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“资产管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Asset management.', NULL, true),
('004:7.5.3', 'JR/T 0117-2014', '7.5.3', '{}',
	'介质管理', 'Media management',
	'基本要求：a） 应确保介质存放在安全的环境中，对各类介质进行控制和保护，并实行存储环境专人管理。b） 应对介质归档和查询等过程进行记录，并根据介质存档的目录清单定期盘点。c） 应对需要送出维修或销毁的介质，首先清除其中的敏感数据或送有相关保密管理责任的部门实施销毁，防止信息泄漏。d） 非征信机构内部存储介质，未经审核授权不得使用。增强要求：a） 应对介质在物理传输过程中的人员选择、打包、交付等情况进行控制，对介质归档和查询等进行登记记录，并根据介质存档的目录清单定期盘点。b） 应对存储介质的使用过程、送出维修以及销毁等进行严格的管理，对带出工作环境的存储介质进行内容加密和监控管理。……',
	'Media are stored securely, their archiving recorded and inventoried; media leaving for repair or destruction are first wiped of sensitive data.',
	'manual', NULL, 'crypto-shredding finsec.protect_shred(); VACUUM after purge (docs/protected-data.md)',
	'删除敏感数据后执行密钥粉碎（finsec.protect_shred()）并 VACUUM。',
	'After deleting sensitive data, crypto-shred (finsec.protect_shred()) and VACUUM.', 'related requirement digest ids: D10', true),
('004:7.5.4', 'JR/T 0117-2014', '7.5.4', '{}',
	'设备管理', 'Equipment management',
	'基本要求：a） 应对征信系统相关的各种设备（包括备份和冗余设备）、线路等指定专门的部门或人员定期进行维护管理。b） 应按照设备安全管理制度的相关要求，对征信系统的各种软硬件设备的选型、采购、发放和领用等过程进行申报和审批，并进行规范化管理。c） 应对终端计算机、工作站、便携机、系统和网络等设备的操作和使用进行规范化管理，按操作规程实现关键设备（包括备份和冗余设备）的启动/停止、加电/断电等操作。d） 非征信机构内部设备未经审核授权不得接入内部征信系统。e） 应确保信息处理设备必须经过审批才能带离机房或办公地点。……',
	'Equipment and lines are maintained; selection, purchase and issue approved; operation of terminals and devices regulated.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“设备管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Equipment management.', NULL, true),
('004:7.5.5a', 'JR/T 0117-2014', '7.5.5 a', '{}',
	'监控管理', 'Monitoring management',
	'应对通信线路、主机、网络设备和应用软件的运行状况、网络流量、用户行为等进行监测和报警，形成记录并妥善保存。',
	'Lines, hosts, network devices, applications, traffic and user behaviour are monitored with alarms, and the records kept.',
	'manual', NULL, 'monitor background worker: rules, alerts (docs/monitor.md)',
	'启用 finsec.enable_monitoring() 与监控后台进程，配置规则并处理告警。',
	'Enable finsec.enable_monitoring() and the monitor worker, configure rules and handle alerts.', 'related requirement digest ids: W1', true),
('004:7.5.5a-enh', 'JR/T 0117-2014', '7.5.5 a 增强要求', '{}',
	'监控管理', 'Monitoring management',
	'应建立安全管理中心，对设备状态、恶意代码、补丁升级、安全审计等安全相关事项进行集中管理。',
	'A security management centre manages device status, malicious code, patches and security audit centrally.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“监控管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Monitoring management.', NULL, true),
('004:7.5.5b', 'JR/T 0117-2014', '7.5.5 b', '{U11}',
	'监控管理', 'Monitoring management',
	'应组织相关人员每月对监测和报警记录进行分析，发现可疑行为，形成分析报告，并采取必要的应对措施。',
	'Logs and audit data analysed at least monthly, with a report.',
	'automated', NULL, 'monthly audit analysis report finsec.report_audit() (docs/compliance.md)',
	'至少每月运行 finsec.report_audit() 分析日志与审计数据并形成书面报告。',
	'At least monthly, run finsec.report_audit() to analyse the logs and audit data and write the report.', NULL, true),
('004:7.5.6a', 'JR/T 0117-2014', '7.5.6 a', '{}',
	'网络安全管理', 'Network security management',
	'应指定人员对网络进行管理，负责运行日志、网络监控记录的日常维护、报警信息分析和处理工作。',
	'Designated staff manage the network, its logs, monitoring records and alarms.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security management.', NULL, true),
('004:7.5.6a-enh', 'JR/T 0117-2014', '7.5.6 a 增强要求', '{}',
	'网络安全管理', 'Network security management',
	'应依据安全策略允许或者拒绝便携式和移动式设备的网络接入。',
	'Portable and mobile devices are allowed or denied network access by policy.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security management.', NULL, true),
('004:7.5.6b', 'JR/T 0117-2014', '7.5.6 b', '{}',
	'网络安全管理', 'Network security management',
	'应严格按照网络安全管理制度的相关要求，对网络安全配置、日志保存时间、安全策略、升级与打补丁、口令更新周期等方面进行有效管理。',
	'Network security configuration, log retention, policies, patches and password change periods are managed by the rules.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security management.', NULL, true),
('004:7.5.6b-enh', 'JR/T 0117-2014', '7.5.6 b 增强要求', '{}',
	'网络安全管理', 'Network security management',
	'应监控和检查违反网络安全策略的行为。',
	'Violations of the network security policy are monitored and checked.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security management.', NULL, true),
('004:7.5.6c', 'JR/T 0117-2014', '7.5.6 c', '{}',
	'网络安全管理', 'Network security management',
	'应根据厂家提供的软件升级版本对网络设备进行更新，并在更新前对现有的重要文件进行备份，同时应做好应急恢复准备。',
	'Network devices are updated to vendor releases after backing up important files, with recovery prepared.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security management.', NULL, true),
('004:7.5.6d', 'JR/T 0117-2014', '7.5.6 d', '{}',
	'网络安全管理', 'Network security management',
	'应每年定期对网络系统进行漏洞扫描，对发现的网络系统安全漏洞进行及时修补。',
	'Networks are scanned for vulnerabilities at least yearly and the findings fixed promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security management.', NULL, true),
('004:7.5.6e', 'JR/T 0117-2014', '7.5.6 e', '{}',
	'网络安全管理', 'Network security management',
	'应对网络设备的配置文件进行定期备份。',
	'Network device configuration files are backed up regularly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security management.', NULL, true),
('004:7.5.6f', 'JR/T 0117-2014', '7.5.6 f', '{W8}',
	'网络安全管理', 'Network security management',
	'应保证所有与外部系统的连接均得到授权和批准。',
	'Every connection to external systems authorised and approved.',
	'automated', NULL, 'compliance check outbound_links (FDW, dblink, subscriptions) against finsec.outbound_allow',
	'所有外部连接须经批准：未批准的 FDW 服务器、订阅或 dblink 删除或经双人批准加入 finsec.outbound_allow。',
	'Every external connection is approved: drop unapproved FDW servers, subscriptions or dblink, or add them to finsec.outbound_allow with two-person approval.', NULL, true),
('004:7.5.7a', 'JR/T 0117-2014', '7.5.7 a', '{}',
	'系统安全管理', 'System security management',
	'应根据业务需求和系统安全分析确定系统的访问控制策略。',
	'The system''s access control policy follows business needs and security analysis.',
	'manual', NULL, 'compliance check public_privileges; RLS on customer tables (docs/security-model.md)',
	'撤销 PUBLIC 的 CREATE 及业务表权限（REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC），对客户数据表启用行级安全。',
	'Revoke PUBLIC CREATE and PUBLIC privileges on business tables (REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC); enable row-level security on customer tables.', 'related requirement digest ids: A17', true),
('004:7.5.7a-enh', 'JR/T 0117-2014', '7.5.7 a 增强要求', '{}',
	'系统安全管理', 'System security management',
	'应指定专人对系统进行管理，划分系统管理员角色，明确各个角色的权限、责任和风险，权限设定应当遵循最小授权原则。',
	'Designated staff manage the system; administrator roles are divided with least privilege.',
	'automated', 'enhanced', 'finsec roles (docs/security-model.md); compliance checks duty_conflicts, superusers, privileged_attributes',
	'撤销登录角色上相互冲突的职责（REVOKE finsec_admin FROM ...），超级用户仅保留引导角色，开发与运维角色分离。',
	'Revoke conflicting duties from login roles (REVOKE finsec_admin FROM ...), keep only the bootstrap superuser, separate developers from operators.', 'related requirement digest ids: A6', true),
('004:7.5.7b', 'JR/T 0117-2014', '7.5.7 b', '{}',
	'系统安全管理', 'System security management',
	'应每年定期对系统进行安全漏洞扫描，对发现的系统安全漏洞及时进行修补。',
	'Systems are scanned for vulnerabilities at least yearly and the findings fixed promptly.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“系统安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: System security management.', NULL, true),
('004:7.5.7b-enh', 'JR/T 0117-2014', '7.5.7 b 增强要求', '{}',
	'系统安全管理', 'System security management',
	'应定期对征信系统进行信息安全风险评估，针对发现的风险，制定相应的风险处置措施，并付诸实施。',
	'Regular information security risk assessments of the credit system, with treatment of the risks found.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“系统安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: System security management.', NULL, true),
('004:7.5.7c', 'JR/T 0117-2014', '7.5.7 c', '{}',
	'系统安全管理', 'System security management',
	'应安装系统的最新安全补丁程序，在安装系统补丁前，应首先在测试环境中测试通过，并对重要文件进行备份后，方可实施系统补丁程序的安装。',
	'The latest security patches are installed after testing and backing up important files.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“系统安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: System security management.', NULL, true),
('004:7.5.7c-enh', 'JR/T 0117-2014', '7.5.7 c 增强要求', '{}',
	'系统安全管理', 'System security management',
	'应及时关注中国国家信息安全漏洞库（http://www.cnnvd.org.cn/）中发布的漏洞情况，及时排除系统隐患。',
	'Vulnerabilities published in the China National Vulnerability Database are followed and fixed promptly.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“系统安全管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: System security management.', NULL, true),
('004:7.5.7d', 'JR/T 0117-2014', '7.5.7 d', '{}',
	'系统安全管理', 'System security management',
	'应通过系统安全管理制度，对系统安全策略、安全配置、日志管理和日常操作流程等方面做出规定。',
	'System security rules cover policies, configuration, log management and daily operations.',
	'manual', NULL, 'compliance self-check (this catalog) as the database security baseline (docs/compliance.md)',
	'以本目录的自动检查作为数据库安全配置基线：运行 SELECT * FROM finsec.compliance_check() 并修复 fail 项。',
	'Use this catalog''s automated checks as the database security baseline: run SELECT * FROM finsec.compliance_check() and fix every fail.', 'related requirement digest ids: A18', true),
('004:7.5.7e', 'JR/T 0117-2014', '7.5.7 e', '{U7}',
	'系统安全管理', 'System security management',
	'应依据操作手册对征信系统进行维护，详细记录操作日志，包括重要的日常操作、运行维护记录、参数的设置和修改等内容，严禁进行未经授权的操作。',
	'Operation logs record parameter settings and their changes.',
	'manual', NULL, 'ledger records setting changes (docs/audit.md)',
	'参数修改通过 ALTER SYSTEM 进行并由账本记录；查阅账本中的设置变更事件。',
	'Change settings with ALTER SYSTEM so the ledger records them; review the ledger''s setting-change events.', NULL, true),
('004:7.5.7f', 'JR/T 0117-2014', '7.5.7 f', '{U11}',
	'系统安全管理', 'System security management',
	'应至少每月对运行日志和审计数据进行分析，以便及时发现异常行为。',
	'Logs and audit data analysed at least monthly, with a report.',
	'automated', NULL, 'monthly audit analysis report finsec.report_audit() (docs/compliance.md)',
	'至少每月运行 finsec.report_audit() 分析日志与审计数据并形成书面报告。',
	'At least monthly, run finsec.report_audit() to analyse the logs and audit data and write the report.', NULL, true),
('004:7.5.8', 'JR/T 0117-2014', '7.5.8', '{}',
	'恶意代码防范管理', 'Malicious code prevention',
	'基本要求：a） 应提高所有用户的防病毒意识，告知及时升级防病毒软件，在读取移动存储设备上的数据以及网络上接收文件或邮件之前，先进行病毒检查，对外来计算机或存储设备接入网络系统之前也应进行病毒检查。b） 应指定专人对网络和主机进行恶意代码检测并保存检测记录。c） 应对防恶意代码软件的授权使用、恶意代码库升级、定期汇报等做出明确规定。增强要求：a） 应至少每月一次检查征信系统内各种产品的恶意代码库的升级情况并进行记录，对防病毒产品上截获的危险病毒或恶意代码进行及时分析处理，并形成书面的报表和汇总报告。',
	'Users are aware of viruses; designated staff scan networks and hosts and keep records; anti-malware use and updates are regulated.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“恶意代码防范管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Malicious code prevention.', NULL, true),
('004:7.5.9-enh', 'JR/T 0117-2014', '7.5.9 增强要求', '{A7,D7}',
	'密码管理', 'Password and key management',
	'a） 使用密钥的征信机构应对密钥进行严格管理，包括以下要求：所有密钥资源必须登记造册、严格保管，不得以任何形式非法复制、修改或外泄。在条件许可的情况下，应对其进行定期验证，以确保其可用性和完整性。与密钥资源相关的人员离岗或转岗时应做好交接，密钥资源的管理、保管、制作和使用都应遵循多重控制、角色分离的原则。密钥资源的领用应严格审批，制作、加载、更换、验证维护和销毁必须按照相关管理规定执行。灾备和生产环节的密钥资源移交应经各相关部门审批，并指定专人办理移交手续。',
	'Two-person control for critical operations (key handling, changes). Key management: keys registered, verified periodically, multi-person control, role separation, approved issue/load/change/destroy.',
	'automated', 'enhanced', 'finsec.change_request / finsec.approve: a second, different finsec_admin approves (docs/security-model.md); keyring: finsec.key_verify(), key_rotate, two-person key changes (docs/keyring.md); compliance checks master_key, keys_verified, key_rotation',
	'关键操作（密钥、限额、规则变更）通过 finsec 变更申请，由另一名 finsec_admin 以 finsec.approve() 批准；确保至少两名管理员。在 finsec 密钥环中登记全部密钥，定期运行 finsec.key_verify()，按期轮换（finsec.key_rotate()），密钥操作经双人批准。',
	'Critical operations (keys, limits, rules) go through finsec change requests approved by a different finsec_admin with finsec.approve(); keep at least two administrators. Register every key in the finsec keyring, run finsec.key_verify() regularly, rotate on schedule (finsec.key_rotate()), key operations approved by two people.', NULL, true),
('004:7.5.9a', 'JR/T 0117-2014', '7.5.9 a', '{A1,A2}',
	'密码管理', 'Password and key management',
	'应至少每半年修改一次密码，包括网络设备用户密码、操作系统用户密码、数据库用户密码和应用程序用户密码等。密码设置规则应符合以下安全强度的要求：不包含全部或部分用户名（任意连续 3个字符）。长度至少为 8个字符。至少包含英文大写字母、小写字母、数字和特殊字符这 4种类型字符中的 3种字符。',
	'Password complexity: at least 8 characters; at least 3 of 4 classes (upper, lower, digit, special); no run of 3 consecutive characters of the user name. Password validity at most 6 months (database, OS, app users); application passwords changed at least every 3 months.',
	'automated', NULL, 'auth: finsec.password_min_length, finsec.password_min_classes, user-name check at CREATE/ALTER ROLE (docs/auth.md); auth: finsec.password_max_age, VALID UNTIL enforcement (docs/auth.md)',
	'设置 finsec.password_min_length = 8、finsec.password_min_classes = 3（ALTER SYSTEM SET ...; SELECT pg_reload_conf();），并确保 finsec 已在 shared_preload_libraries 中加载。设置 finsec.password_max_age（普通账户不超过 6 个月，应用账户不超过 3 个月），为每个登录角色设置 VALID UNTIL。',
	'Set finsec.password_min_length = 8 and finsec.password_min_classes = 3 (ALTER SYSTEM SET ...; SELECT pg_reload_conf();) with finsec in shared_preload_libraries. Set finsec.password_max_age (at most 6 months, 3 months for application accounts) and give every login role a VALID UNTIL.', NULL, true),
('004:7.5.9b', 'JR/T 0117-2014', '7.5.9 b', '{}',
	'密码管理', 'Password and key management',
	'网络设备、操作系统、数据库和应用程序的超级管理员用户密码要纸质密封交专人保管，而其他普通用户密码可根据本机构实际情况采取必要的安全手段妥善保管。',
	'Super-administrator passwords of devices, systems, databases and applications are sealed on paper and kept by a designated person.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“密码管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Password and key management.', NULL, true),
('004:7.5.10a', 'JR/T 0117-2014', '7.5.10 a', '{A16}',
	'变更管理', 'Change management',
	'征信系统发生变更前，应经过审批，在做好征信数据的备份和恢复工作基础上，方可实施变更，并在实施后向相关人员通告。',
	'Changes approved, made only after a backup, double-reviewed.',
	'automated', NULL, 'finsec.change_request / finsec.approve; backup register (docs/compliance.md)',
	'变更前在备份登记中记录一次成功备份，并通过 finsec 变更申请双人复核。',
	'Before a change, record a successful backup in the backup register and have the change double-reviewed through a finsec change request.', NULL, true),
('004:7.5.10a-enh', 'JR/T 0117-2014', '7.5.10 a 增强要求', '{}',
	'变更管理', 'Change management',
	'应按照变更管理制度中的相关要求，建立起基于申报和审批的变更控制程序，对变更影响进行分析并文档化，记录变更实施过程，并妥善保存所有文档和记录。',
	'A change control process of requests and approvals; impact analysed and documented; implementation recorded; records kept.',
	'manual', 'enhanced', 'finsec.change_request / finsec.approve: a second, different finsec_admin approves (docs/security-model.md)',
	'关键操作（密钥、限额、规则变更）通过 finsec 变更申请，由另一名 finsec_admin 以 finsec.approve() 批准；确保至少两名管理员。',
	'Critical operations (keys, limits, rules) go through finsec change requests approved by a different finsec_admin with finsec.approve(); keep at least two administrators.', 'related requirement digest ids: A7', true),
('004:7.5.10b', 'JR/T 0117-2014', '7.5.10 b', '{}',
	'变更管理', 'Change management',
	'应针对征信系统中的重要变更，制定相应的变更方案。',
	'Important changes of the credit system have a change plan.',
	'manual', NULL, 'finsec.change_request / finsec.approve; backup register (docs/compliance.md)',
	'变更前在备份登记中记录一次成功备份，并通过 finsec 变更申请双人复核。',
	'Before a change, record a successful backup in the backup register and have the change double-reviewed through a finsec change request.', 'related requirement digest ids: A16', true),
('004:7.5.10b-enh', 'JR/T 0117-2014', '7.5.10 b 增强要求', '{}',
	'变更管理', 'Change management',
	'应按照变更管理制度中的相关要求，对中止变更并从失败变更中恢复的过程进行管理，明确过程控制方法和人员职责，必要时对恢复过程进行演练。',
	'Aborting a change and recovering from a failed one is managed, with roles defined and drilled when needed.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“变更管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Change management.', NULL, true),
('004:7.5.11a', 'JR/T 0117-2014', '7.5.11 a', '{}',
	'备份与恢复管理', 'Backup and recovery management',
	'应识别需要定期备份的重要业务信息、系统数据及软件系统等。',
	'The important business information, system data and software to back up regularly are identified.',
	'manual', NULL, 'backup register: finsec.record_backup(), record_restore_test(); compliance checks backup_schedule, restore_tested',
	'登记每次备份及保存期，每季度做一次恢复测试并以 finsec.record_restore_test() 记录。',
	'Record each backup with its retention, test a restore every quarter and record it with finsec.record_restore_test().', 'related requirement digest ids: B4', true),
('004:7.5.11a-enh', 'JR/T 0117-2014', '7.5.11 a 增强要求', '{B4}',
	'备份与恢复管理', 'Backup and recovery management',
	'应按照数据备份和恢复的制度要求，对备份过程进行记录，备份介质和记录文件应妥善保存。',
	'Backups recorded with retention; restore tested every quarter.',
	'automated', 'enhanced', 'backup register: finsec.record_backup(), record_restore_test(); compliance checks backup_schedule, restore_tested',
	'登记每次备份及保存期，每季度做一次恢复测试并以 finsec.record_restore_test() 记录。',
	'Record each backup with its retention, test a restore every quarter and record it with finsec.record_restore_test().', NULL, true),
('004:7.5.11b', 'JR/T 0117-2014', '7.5.11 b', '{}',
	'备份与恢复管理', 'Backup and recovery management',
	'应规定备份信息的备份方式、备份频度、存储介质、保存期等。',
	'The backup method, frequency, media and retention of backups are defined.',
	'automated', NULL, 'backup register: finsec.record_backup(), record_restore_test(); compliance checks backup_schedule, restore_tested',
	'登记每次备份及保存期，每季度做一次恢复测试并以 finsec.record_restore_test() 记录。',
	'Record each backup with its retention, test a restore every quarter and record it with finsec.record_restore_test().', 'related requirement digest ids: B4', true),
('004:7.5.11b-enh', 'JR/T 0117-2014', '7.5.11 b 增强要求', '{B4}',
	'备份与恢复管理', 'Backup and recovery management',
	'应每季度执行恢复程序，检查和测试备份介质的有效性，确保可以在恢复程序规定的时间内完成备份的恢复。',
	'Backups recorded with retention; restore tested every quarter.',
	'automated', 'enhanced', 'backup register: finsec.record_backup(), record_restore_test(); compliance checks backup_schedule, restore_tested',
	'登记每次备份及保存期，每季度做一次恢复测试并以 finsec.record_restore_test() 记录。',
	'Record each backup with its retention, test a restore every quarter and record it with finsec.record_restore_test().', NULL, true),
('004:7.5.11c', 'JR/T 0117-2014', '7.5.11 c', '{}',
	'备份与恢复管理', 'Backup and recovery management',
	'应根据数据的重要性及其对系统运行的影响，制定数据的备份策略和恢复策略，备份策略指明备份数据的放置场所、文件命名规则、介质替换频率和数据离站运输方法。',
	'Backup and recovery strategies by the data''s importance: location, naming, media rotation, off-site transport.',
	'manual', NULL, 'backup register: finsec.record_backup(), record_restore_test(); compliance checks backup_schedule, restore_tested',
	'登记每次备份及保存期，每季度做一次恢复测试并以 finsec.record_restore_test() 记录。',
	'Record each backup with its retention, test a restore every quarter and record it with finsec.record_restore_test().', 'related requirement digest ids: B4', true),
('004:7.5.12', 'JR/T 0117-2014', '7.5.12', '{}',
	'安全事件处置', 'Security incident handling',
	'基本要求：a） 应报告所发现的安全弱点和可疑事件，且任何情况下用户均不应尝试验证弱点。b） 应通过安全事件报告和处置管理制度来明确安全事件类型，规定安全事件的现场处理、事件报告和后期恢复的管理职责。c） 应根据安全事件对征信系统产生的影响，采用国家相关管理部门对计算机安全事件等级划分方法，对征信系统计算机安全事件进行等级划分。d） 应记录并保存所有报告的安全弱点和可疑事件，分析事件原因，监控事态发展，采取措施避免安全事件发生。增强要求：a） 应制定安全事件报告和响应处理程序，确定事件的报告流程，响应和处置的范围、程度，以及处理方法等。……',
	'Weaknesses and suspicious events are reported; incident types, handling, reporting and recovery are defined and graded.',
	'manual', NULL, 'monitor background worker: rules, alerts (docs/monitor.md)',
	'启用 finsec.enable_monitoring() 与监控后台进程，配置规则并处理告警。',
	'Enable finsec.enable_monitoring() and the monitor worker, configure rules and handle alerts.', 'related requirement digest ids: W1', true),
('004:7.5.13', 'JR/T 0117-2014', '7.5.13', '{}',
	'应急管理', 'Emergency management',
	'基本要求：a） 应在统一的应急预案框架下制定不同安全事件的应急预案，应急预案框架应包括启动应急预案的条件、应急处理流程、系统恢复流程、事后教育和培训等内容。b） 应对征信系统相关的人员进行应急预案培训，应急预案的培训应至少每年举办一次。增强要求：a） 应从人力、设备、技术和财务等方面确保应急预案的执行有足够的资源保障。b） 应定期对应急预案进行演练和评估，根据不同的应急恢复内容，确定演练的周期，应至少每年演练一次，并及时组织开展预案评估工作。c） 应定期审查和更新应急预案。',
	'Contingency plans per incident type within one framework; training at least yearly; resources ensured.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“应急管理”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Emergency management.', NULL, true),
('004:8.1.1', 'JR/T 0117-2014', '8.1.1', '{}',
	'客户端程序', 'Client programs',
	'基本要求：a） 征信机构及与之相连的信息提供者、信息使用者应采取有效技术措施，保证客户端所处理的信息、客户端与服务器交互信息的机密性和完整性；征信机构应保证所提供的客户端程序的真实性和完整性，以及敏感程序逻辑的机密性。b） 应对征信系统客户端程序进行签名，标识客户端程序的来源和发布者，保证客户所下载的客户端程序来源于所信任的机构。c） 征信系统客户端程序应通过采用密码保护控件等方式，提供客户输入敏感信息的即时加密功能，防范恶意程序获取或篡改敏感信息。d） 征信系统客户端程序应对用户输入的信息进行数据有效性校验以防止SQL注入、跨站脚本攻击等漏洞。……',
	'Confidentiality and integrity of client-side information and exchanges; client programs signed and genuine.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“客户端程序”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Client programs.', NULL, true),
('004:8.1.2', 'JR/T 0117-2014', '8.1.2', '{}',
	'客户端环境安全', 'Client environment security',
	'基本要求：a） 征信机构应采取有效措施提升本机构客户端环境安全级别，例如在线杀毒服务、安全检测工具等，并在显著位置予以提醒；同时应要求接入征信系统的信息提供者、信息使用者采取有效措施提升本机构客户端环境安全级别。b） 当征信机构发现其客户端环境存在重大安全缺陷或安全威胁时，应当在门户站点发布警示通知，并通过短信、邮件等方式警示用户。',
	'The client environment''s security is raised (online scanning, tools) and users warned of serious threats.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“客户端环境安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Client environment security.', NULL, true),
('004:8.2.1', 'JR/T 0117-2014', '8.2.1', '{A12}',
	'通讯协议', 'Communication protocols',
	'基本要求：a） 面向互联网的征信系统，应使用强壮的加密算法和安全协议保护客户端与服务器之间所有连接，保证信息传输的机密性和完整性，例如，使用SSL/TLS、IPSEC和WTLS等协议。b） 如果使用SSL协议，应使用3.0及以上相对高版本的协议，取消对低版本协议的支持。增强要求：a） 应使用强壮的加密算法和安全协议保护征信系统与其他应用服务器之间所有连接，保证信息传输的机密性和完整性。',
	'SSL without old protocol versions, keys ≥ 128 bits, mutual authentication for important batch clients.',
	'automated', NULL, 'compliance checks ssl_enabled, ssl_protocol, ssl_ciphers, hba_batch_clientcert',
	'设置 ssl = on、ssl_min_protocol_version = ''TLSv1.2''、强密码套件（如 HIGH:!aNULL:!MD5:!3DES:!RC4）；批量客户端在 pg_hba.conf 中使用 hostssl ... cert 或 clientcert=verify-full。',
	'Set ssl = on, ssl_min_protocol_version = ''TLSv1.2'', strong ciphers (e.g. HIGH:!aNULL:!MD5:!3DES:!RC4); batch clients use hostssl ... cert or clientcert=verify-full in pg_hba.conf.', NULL, true),
('004:8.2.2a', 'JR/T 0117-2014', '8.2.2 a', '{}',
	'安全认证', 'Security authentication',
	'征信系统客户端与服务器应使用安全的协议和强壮的加密算法进行安全、可靠的身份认证。',
	'Clients and servers authenticate with secure protocols and strong cryptographic algorithms.',
	'automated', NULL, 'compliance checks ssl_enabled, ssl_protocol, ssl_ciphers, hba_batch_clientcert',
	'设置 ssl = on、ssl_min_protocol_version = ''TLSv1.2''、强密码套件（如 HIGH:!aNULL:!MD5:!3DES:!RC4）；批量客户端在 pg_hba.conf 中使用 hostssl ... cert 或 clientcert=verify-full。',
	'Set ssl = on, ssl_min_protocol_version = ''TLSv1.2'', strong ciphers (e.g. HIGH:!aNULL:!MD5:!3DES:!RC4); batch clients use hostssl ... cert or clientcert=verify-full in pg_hba.conf.', 'related requirement digest ids: A12', true),
('004:8.2.2a-enh', 'JR/T 0117-2014', '8.2.2 a 增强要求', '{}',
	'安全认证', 'Security authentication',
	'面向互联网的征信系统Web服务器应使用获得工信部《电子认证服务许可证》的电子认证服务机构颁发的CA证书及认证服务。',
	'Internet-facing web servers use CA certificates from a licensed electronic certification service.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全认证”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security authentication.', NULL, true),
('004:8.2.2b', 'JR/T 0117-2014', '8.2.2 b', '{}',
	'安全认证', 'Security authentication',
	'整个通讯期间，经过认证的通讯线路应一直保持安全连接状态。',
	'Authenticated connections stay secure for the whole communication.',
	'automated', NULL, 'compliance checks ssl_enabled, ssl_protocol, ssl_ciphers, hba_batch_clientcert',
	'设置 ssl = on、ssl_min_protocol_version = ''TLSv1.2''、强密码套件（如 HIGH:!aNULL:!MD5:!3DES:!RC4）；批量客户端在 pg_hba.conf 中使用 hostssl ... cert 或 clientcert=verify-full。',
	'Set ssl = on, ssl_min_protocol_version = ''TLSv1.2'', strong ciphers (e.g. HIGH:!aNULL:!MD5:!3DES:!RC4); batch clients use hostssl ... cert or clientcert=verify-full in pg_hba.conf.', 'related requirement digest ids: A12', true),
('004:8.2.2b-enh', 'JR/T 0117-2014', '8.2.2 b 增强要求', '{}',
	'安全认证', 'Security authentication',
	'应确保客户获取的面向互联网的征信系统Web服务器的根证书为合法电子认证服务机构所颁发，且真实有效，可采用的方法包括但不限于：在客户注册征信系统时分发根证书，或将根证书集成在客户端控件下载包中分发等。',
	'Customers obtain the genuine root certificate of the internet-facing web server (e.g. at registration or in the client package).',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全认证”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security authentication.', NULL, true),
('004:8.2.2c-enh', 'JR/T 0117-2014', '8.2.2 c 增强要求', '{A12}',
	'安全认证', 'Security authentication',
	'对于提供批量信息服务的重要客户端，应采用双向身份认证。双向身份认证指不仅服务器对客户端身份进行认证，客户端也应认证服务器的身份。',
	'SSL without old protocol versions, keys ≥ 128 bits, mutual authentication for important batch clients.',
	'automated', 'enhanced', 'compliance checks ssl_enabled, ssl_protocol, ssl_ciphers, hba_batch_clientcert',
	'设置 ssl = on、ssl_min_protocol_version = ''TLSv1.2''、强密码套件（如 HIGH:!aNULL:!MD5:!3DES:!RC4）；批量客户端在 pg_hba.conf 中使用 hostssl ... cert 或 clientcert=verify-full。',
	'Set ssl = on, ssl_min_protocol_version = ''TLSv1.2'', strong ciphers (e.g. HIGH:!aNULL:!MD5:!3DES:!RC4); batch clients use hostssl ... cert or clientcert=verify-full in pg_hba.conf.', NULL, true),
('004:8.3.1', 'JR/T 0117-2014', '8.3.1', '{}',
	'物理安全', 'Physical security',
	'基本要求：a） 物理位置的选择机房和办公场地应选择在具有防震、防风和防雨等能力的建筑内。b） 物理访问控制机房出入口应安排专人值守，控制、鉴别和记录进入的人。需进入机房的来访人员应经过申请和审批流程，并限制和监控其活动范围。c） 防盗窃和防破坏应将主要设备放置在机房内。应将设备或主要部件进行固定，并设置明显的不易除去的标记。应将通信线缆铺设在隐蔽处，可铺设在地下或管道中。应对介质分类标识，存储在介质库或档案室中。主机房应安装必要的防盗报警设施和监控报警系统。d） 防雷击机房建筑应设置避雷装置。机房应设置交流电源地线。e） 防火机房应设置灭火设备和火灾自动报警系统。……',
	'Machine rooms in resilient buildings, guarded and access-controlled, protected against theft, fire, water, static, power loss and electromagnetic interference.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“物理安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Physical security.', NULL, true),
('004:8.3.2a', 'JR/T 0117-2014', '8.3.2 a', '{}',
	'网络安全：结构安全', 'Network security: network structure',
	'结构安全：应保证关键网络设备的业务处理能力具备冗余空间，满足业务高峰期需要。应保证接入网络和核心网络的带宽满足业务高峰期需要。应绘制与当前运行情况相符的网络拓扑结构图。应根据各部门的工作职能、重要性和所涉及信息的重要程度等因素，划分不同的子网或网段，并按照方便管理和控制的原则为各子网、网段分配地址段。',
	'Network structure: spare capacity and bandwidth for peaks, an up-to-date topology diagram, subnets by function and importance.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全：结构安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security: network structure.', NULL, true),
('004:8.3.2a-enh', 'JR/T 0117-2014', '8.3.2 a 增强要求', '{}',
	'网络安全：结构安全', 'Network security: network structure',
	'结构安全：应在业务终端与业务服务器之间进行路由控制建立安全的访问路径。应避免将重要网段部署在网络边界处且直接连接外部信息系统，重要网段与其他网段之间采取可靠的技术隔离手段。应按照对业务服务的重要次序来指定带宽分配优先级别，保证在网络发生拥堵的时候优先保护重要主机。',
	'Routing control between terminals and servers, isolation of important segments, bandwidth priority by importance.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全：结构安全”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security: network structure.', NULL, true),
('004:8.3.2b', 'JR/T 0117-2014', '8.3.2 b', '{}',
	'网络安全：访问控制', 'Network security: access control',
	'访问控制：应在网络边界部署访问控制设备，启用访问控制功能。应能根据会话状态信息为数据流提供明确的允许/拒绝访问的能力，控制粒度为网段级。应按用户和系统之间的允许访问规则，决定允许或拒绝用户对受控系统进行资源访问，控制粒度为单个用户。应限制具有拨号访问权限的用户数量。',
	'Network access control: boundary devices, session-state allow/deny, per-user rules, few dial-up users.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全：访问控制”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security: access control.', NULL, true),
('004:8.3.2b-enh', 'JR/T 0117-2014', '8.3.2 b 增强要求', '{C12}',
	'网络安全：访问控制', 'Network security: access control',
	'访问控制：应能根据会话状态信息为数据流提供明确的允许/拒绝访问的能力，控制粒度为端口级。应对进出网络的信息内容进行过滤，实现对应用层 HTTP、FTP、TELNET、SMTP、POP3等协议命令级的控制。应在会话处于非活跃状态一定时间或会话结束后终止访问连接。应限制网络最大流量及网络连接数。重要网段应采取技术手段防止地址欺骗。应对实施查询的客户端网络地址等信息进行识别与记录。',
	'Access control (enhanced): allow/deny by session state at port level, filtering of application-protocol commands, idle sessions ended, maximum traffic and connections limited, address spoofing prevented. (The digest cites it for C12, the client address of credit queries.)',
	'manual', 'enhanced', 'credit query log records client address (docs/credit.md)',
	'征信查询日志记录查询客户端网络地址；核查查询日志中的地址字段。',
	'The credit query log records the client network address; review that field in the query log.', NULL, true),
('004:8.3.2c', 'JR/T 0117-2014', '8.3.2 c', '{}',
	'网络安全：安全审计', 'Network security: security audit',
	'安全审计：应对网络系统中的网络设备运行状况、网络流量、用户行为等进行日志记录。审计记录应包括事件的日期和时间、用户、事件类型、事件是否成功及其他与审计相关的信息。',
	'Network audit: device status, traffic and user behaviour logged with date, time, user, event type and result.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全：安全审计”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security: security audit.', NULL, true),
('004:8.3.2c-enh', 'JR/T 0117-2014', '8.3.2 c 增强要求', '{}',
	'网络安全：安全审计', 'Network security: security audit',
	'安全审计：应能够根据记录数据进行分析，并生成审计报表。应对审计记录进行保护，避免受到未预期的删除、修改或覆盖等。',
	'Network audit records are analysed into reports and protected from deletion, modification or overwriting.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全：安全审计”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security: security audit.', NULL, true),
('004:8.3.2d', 'JR/T 0117-2014', '8.3.2 d', '{W8}',
	'网络安全：边界完整性检查', 'Network security: boundary integrity check',
	'边界完整性检查：应能够对内部网络中出现的内部用户未经准许私自联接到外部网络的行为进行检查。',
	'Every connection to external systems authorised and approved.',
	'automated', NULL, 'compliance check outbound_links (FDW, dblink, subscriptions) against finsec.outbound_allow',
	'所有外部连接须经批准：未批准的 FDW 服务器、订阅或 dblink 删除或经双人批准加入 finsec.outbound_allow。',
	'Every external connection is approved: drop unapproved FDW servers, subscriptions or dblink, or add them to finsec.outbound_allow with two-person approval.', NULL, true),
('004:8.3.2d-enh', 'JR/T 0117-2014', '8.3.2 d 增强要求', '{}',
	'网络安全：边界完整性检查', 'Network security: boundary integrity check',
	'边界完整性检查：应能够对非授权设备私自联到内部网络的行为进行检查，准确定出位置，并对其进行有效阻断。应能够对内部网络用户私自联到外部网络的行为进行检查，准确定出位置，并对其进行有效阻断。',
	'Unauthorised devices joining the internal network, and internal users connecting outside, are detected, located and blocked.',
	'manual', 'enhanced', 'compliance check outbound_links (FDW, dblink, subscriptions) against finsec.outbound_allow',
	'所有外部连接须经批准：未批准的 FDW 服务器、订阅或 dblink 删除或经双人批准加入 finsec.outbound_allow。',
	'Every external connection is approved: drop unapproved FDW servers, subscriptions or dblink, or add them to finsec.outbound_allow with two-person approval.', 'related requirement digest ids: W8', true),
('004:8.3.2e', 'JR/T 0117-2014', '8.3.2 e', '{}',
	'网络安全：入侵防范', 'Network security: intrusion prevention',
	'入侵防范：应在网络边界处监视以下攻击行为：端口扫描、强力攻击、木马后门攻击、拒绝服务攻击、缓冲区溢出攻击、IP碎片攻击和网络蠕虫攻击等。',
	'Intrusion prevention at the network boundary: scans, brute force, trojans, DoS, overflows, fragments, worms.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全：入侵防范”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security: intrusion prevention.', NULL, true),
('004:8.3.2e-enh', 'JR/T 0117-2014', '8.3.2 e 增强要求', '{}',
	'网络安全：入侵防范', 'Network security: intrusion prevention',
	'入侵防范：当检测到攻击行为时，记录攻击源 IP、攻击类型、攻击目的、攻击时间，在发生严重入侵事件时应提供报警。',
	'Detected attacks are recorded with source IP, type, target and time, with alarms on serious intrusions.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全：入侵防范”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security: intrusion prevention.', NULL, true),
('004:8.3.2f', 'JR/T 0117-2014', '8.3.2 f', '{A2}',
	'网络安全：网络设备防护', 'Network security: network device protection',
	'网络设备防护：应对登录网络设备的用户进行身份鉴别。应对网络设备的管理员登录地址进行限制。网络设备用户的标识应唯一。身份鉴别信息应具有不易被冒用的特点，口令应符合“6.5.9 密码管理”的相关要求，有效期最长为六个月。应具有登录失败处理功能，可采取结束会话、限制非法登录次数和当网络登录连接超时自动退出等措施。当对网络设备进行远程管理时，应采取必要措施防止鉴别信息在网络传输过程中被窃听。',
	'Password validity at most 6 months (database, OS, app users); application passwords changed at least every 3 months.',
	'automated', NULL, 'auth: finsec.password_max_age, VALID UNTIL enforcement (docs/auth.md)',
	'设置 finsec.password_max_age（普通账户不超过 6 个月，应用账户不超过 3 个月），为每个登录角色设置 VALID UNTIL。',
	'Set finsec.password_max_age (at most 6 months, 3 months for application accounts) and give every login role a VALID UNTIL.', NULL, true),
('004:8.3.2f-enh', 'JR/T 0117-2014', '8.3.2 f 增强要求', '{}',
	'网络安全：恶意代码防范', 'Network security: malicious code prevention',
	'恶意代码防范：应在网络边界处对恶意代码进行检测和清除。应维护恶意代码库的升级和检测系统的更新。',
	'Malicious code is detected and removed at the boundary, with libraries and detection kept up to date.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全：恶意代码防范”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security: malicious code prevention.', NULL, true),
('004:8.3.2g-enh', 'JR/T 0117-2014', '8.3.2 g 增强要求', '{}',
	'网络安全：网络设备防护', 'Network security: network device protection',
	'网络设备防护：主要网络设备应对同一用户选择两种或两种以上组合的鉴别技术来进行身份鉴别。应实现设备特权用户的权限分离。',
	'Main network devices use two or more authentication techniques and separate privileged users.',
	'manual', 'enhanced', 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“网络安全：网络设备防护”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Network security: network device protection.', NULL, true),
('004:8.3.3a', 'JR/T 0117-2014', '8.3.3 a', '{A2,A3,A4}',
	'主机安全：身份鉴别', 'Host security: identification and authentication',
	'身份鉴别：应对登录操作系统和数据库系统的用户进行身份标识和鉴别。操作系统和数据库系统管理用户身份标识应具有不易被冒用的特点，口令应符合“6.5.9密码管理”的相关要求，有效期最长为六个月。应启用登录失败处理功能，可采取结束会话、限制非法登录次数和自动退出等措施。当对服务器进行远程管理时，应采取必要措施，防止鉴别信息在网络传输过程中被窃听。应为操作系统和数据库系统的不同用户分配不同的用户名，确保用户名具有唯一性。',
	'Password validity at most 6 months (database, OS, app users); application passwords changed at least every 3 months. Login failure handling: limit failed attempts, end session, lock out, auto logout. Unique user identities; no shared, default, surplus or expired accounts; rename defaults.',
	'automated', NULL, 'auth: finsec.password_max_age, VALID UNTIL enforcement (docs/auth.md); auth: failed-login lockout (finsec.auth_state(), finsec.unlock_role(); docs/auth.md); compliance check default_accounts, inactive_roles (docs/compliance.md)',
	'设置 finsec.password_max_age（普通账户不超过 6 个月，应用账户不超过 3 个月），为每个登录角色设置 VALID UNTIL。设置 finsec.max_auth_failures（如 5）、finsec.auth_failure_window、finsec.lockout_duration（如 30min）、finsec.auth_failure_delay，由管理员用 finsec.unlock_role() 解锁。删除或禁用多余、过期、共享和默认账户（ALTER ROLE ... NOLOGIN；DROP ROLE），为每人建立独立登录角色。',
	'Set finsec.password_max_age (at most 6 months, 3 months for application accounts) and give every login role a VALID UNTIL. Set finsec.max_auth_failures (e.g. 5), finsec.auth_failure_window, finsec.lockout_duration (e.g. 30min) and finsec.auth_failure_delay; administrators unlock with finsec.unlock_role(). Drop or disable surplus, expired, shared and default accounts (ALTER ROLE ... NOLOGIN; DROP ROLE); give each person a login role of their own.', NULL, true),
('004:8.3.3a-enh', 'JR/T 0117-2014', '8.3.3 a 增强要求', '{A11}',
	'主机安全：身份鉴别', 'Host security: identification and authentication',
	'身份鉴别：应采用两种或两种以上组合的鉴别技术对管理用户进行身份鉴别。',
	'Two or more authentication techniques for administrative users; login addresses of administrators restricted.',
	'automated', 'enhanced', 'compliance checks admin_strong_auth, hba_superuser_wide, hba_no_trust (pg_hba_file_rules)',
	'管理用户仅通过 hostssl 的 cert 或 cert+scram 认证登录，并在 pg_hba.conf 中限制其登录地址；删除 trust 与 0.0.0.0/0 超级用户规则。',
	'Administrators connect only over hostssl with cert (or cert plus scram) from restricted addresses in pg_hba.conf; remove trust lines and superuser lines open to 0.0.0.0/0.', NULL, true),
('004:8.3.3b', 'JR/T 0117-2014', '8.3.3 b', '{A4,A6}',
	'主机安全：访问控制', 'Host security: access control',
	'访问控制：应启用访问控制功能，依据安全策略控制用户对资源的访问。应根据管理用户的角色分配权限，实现管理用户的权限分离，仅授予管理用户所需的最小权限。应实行操作系统和数据库系统特权用户的权限分离。应限制默认账户的访问权限，重命名系统默认账户，修改这些账户的默认口令。应及时删除或禁用多余的、过期的账户，避免共享账户、过期账户的使用。',
	'Unique user identities; no shared, default, surplus or expired accounts; rename defaults. Separation of duties: security officer not also DBA/sysadmin; developers not operators; least privilege; privileged users separated.',
	'automated', NULL, 'compliance check default_accounts, inactive_roles (docs/compliance.md); finsec roles (docs/security-model.md); compliance checks duty_conflicts, superusers, privileged_attributes',
	'删除或禁用多余、过期、共享和默认账户（ALTER ROLE ... NOLOGIN；DROP ROLE），为每人建立独立登录角色。撤销登录角色上相互冲突的职责（REVOKE finsec_admin FROM ...），超级用户仅保留引导角色，开发与运维角色分离。',
	'Drop or disable surplus, expired, shared and default accounts (ALTER ROLE ... NOLOGIN; DROP ROLE); give each person a login role of their own. Revoke conflicting duties from login roles (REVOKE finsec_admin FROM ...), keep only the bootstrap superuser, separate developers from operators.', NULL, true),
('004:8.3.3b-enh', 'JR/T 0117-2014', '8.3.3 b 增强要求', '{}',
	'主机安全：安全审计', 'Host security: security audit',
	'安全审计：应能够根据记录数据进行分析，并生成审计报表。应保护审计进程，避免发生未预期的中断。',
	'Audit records are analysed into reports; the audit process is protected from unexpected interruption.',
	'automated', 'enhanced', 'append-only audit ledger with hash chain, finsec.audit_verify() (docs/audit.md); compliance check ledger_verified',
	'定期运行 finsec.audit_verify() 并确认结果无误。',
	'Run finsec.audit_verify() regularly and check its result.', 'related requirement digest ids: U2', true),
('004:8.3.3c', 'JR/T 0117-2014', '8.3.3 c', '{U6}',
	'主机安全：安全审计', 'Host security: security audit',
	'安全审计：审计范围应覆盖到服务器上的每个操作系统用户和数据库用户。审计内容应包括用户权限、重要用户行为、系统资源的异常使用和重要系统命令的使用等系统内重要的安全操作。审计记录应包括事件的日期、时间、类型、主体标识、客体标识和结果等。应保护审计记录，避免受到未预期的删除、修改或覆盖等。',
	'Audit covers user privileges, important user behaviour and important system commands of every DB user.',
	'automated', NULL, 'ledger records DDL, GRANT/REVOKE, roles, ALTER SYSTEM (docs/audit.md); compliance check log_ddl',
	'确认 finsec 已预加载且账本记录 DDL、授权与 ALTER SYSTEM；设置 log_statement = ''ddl''。',
	'Check finsec is preloaded and the ledger records DDL, grants and ALTER SYSTEM; set log_statement = ''ddl''.', NULL, true),
('004:8.3.3c-enh', 'JR/T 0117-2014', '8.3.3 c 增强要求', '{U13}',
	'主机安全：入侵防范', 'Host security: intrusion prevention',
	'入侵防范：应能够检测到对重要服务器进行入侵的行为，能够记录入侵的源 IP、攻击的类型、攻击的目的、攻击的时间，并在发生严重入侵事件时提供报警。应能够对重要程序的完整性进行检测，并在检测到完整性受到破坏后具有恢复的措施。',
	'Integrity of important programs detected.',
	'automated', 'enhanced', 'finsec.status(): hash of finsec''s function definitions and library; compliance check finsec_components',
	'运行 SELECT * FROM finsec.status() 确认所有组件正常，如有篡改则重新安装扩展。',
	'Run SELECT * FROM finsec.status() and check every component is ok; reinstall the extension if it was tampered with.', NULL, true),
('004:8.3.3d', 'JR/T 0117-2014', '8.3.3 d', '{W2}',
	'主机安全：入侵防范', 'Host security: intrusion prevention',
	'入侵防范：操作系统应遵循最小安装的原则，仅安装需要的组件和应用程序，并通过设置升级服务器等方式保持系统补丁及时得到更新。',
	'Intrusion prevention: the operating system is installed minimally (only the components and applications needed) and kept patched. (The digest cites it for W2, service-level warnings; the seed has that in 8.3.3 d enhanced.)',
	'manual', NULL, 'monitor QoS rules (docs/monitor.md)',
	'配置服务质量监控规则，在低于最低可接受水平时告警。',
	'Configure QoS monitoring rules that warn below the lowest acceptable level.', NULL, true),
('004:8.3.3d-enh', 'JR/T 0117-2014', '8.3.3 d 增强要求', '{}',
	'主机安全：资源控制', 'Host security: resource control',
	'资源控制：系统的服务水平降低到预先规定的最小值时，应能够进行检测和报警。',
	'When the service level drops to the predefined minimum it is detected and alarmed.',
	'manual', 'enhanced', 'monitor QoS rules (docs/monitor.md)',
	'配置服务质量监控规则，在低于最低可接受水平时告警。',
	'Configure QoS monitoring rules that warn below the lowest acceptable level.', 'related requirement digest ids: W2', true),
('004:8.3.3e', 'JR/T 0117-2014', '8.3.3 e', '{A11,A13}',
	'主机安全：资源控制', 'Host security: resource control',
	'资源控制：应通过设定终端接入方式、网络地址范围等条件限制终端登录。应根据安全策略设置登录终端的操作超时锁定。应限制单个用户对系统资源的最大或最小使用限度。应对重要服务器进行监视，包括监视服务器的 CPU、硬盘、内存、网络等资源的使用情况。',
	'Two or more authentication techniques for administrative users; login addresses of administrators restricted. Limits on each user''s use of system resources; service priorities.',
	'automated', NULL, 'compliance checks admin_strong_auth, hba_superuser_wide, hba_no_trust (pg_hba_file_rules); compliance check resource_limits, connection_limits',
	'管理用户仅通过 hostssl 的 cert 或 cert+scram 认证登录，并在 pg_hba.conf 中限制其登录地址；删除 trust 与 0.0.0.0/0 超级用户规则。为应用角色设置 statement_timeout、temp_file_limit、work_mem（ALTER ROLE ... SET ...）及 CONNECTION LIMIT。',
	'Administrators connect only over hostssl with cert (or cert plus scram) from restricted addresses in pg_hba.conf; remove trust lines and superuser lines open to 0.0.0.0/0. Set statement_timeout, temp_file_limit and work_mem per application role (ALTER ROLE ... SET ...) and a CONNECTION LIMIT.', NULL, true),
('004:8.3.4a', 'JR/T 0117-2014', '8.3.4 a', '{A2,A3}',
	'应用安全：身份鉴别', 'Application security: identification and authentication',
	'身份鉴别：应提供专用的登录控制模块对登录用户进行身份标识和鉴别。应提供登录失败处理功能，可采取结束会话、限制非法登录次数和自动退出等措施。应启用身份鉴别、用户身份标识唯一性检查、用户身份鉴别信息复杂度检查以及登录失败处理功能，并根据安全策略配置相关参数。用户身份鉴别信息应符合“6.5.9 密码管理”的相关规定，有效期最长为六个月。',
	'Password validity at most 6 months (database, OS, app users); application passwords changed at least every 3 months. Login failure handling: limit failed attempts, end session, lock out, auto logout.',
	'automated', NULL, 'auth: finsec.password_max_age, VALID UNTIL enforcement (docs/auth.md); auth: failed-login lockout (finsec.auth_state(), finsec.unlock_role(); docs/auth.md)',
	'设置 finsec.password_max_age（普通账户不超过 6 个月，应用账户不超过 3 个月），为每个登录角色设置 VALID UNTIL。设置 finsec.max_auth_failures（如 5）、finsec.auth_failure_window、finsec.lockout_duration（如 30min）、finsec.auth_failure_delay，由管理员用 finsec.unlock_role() 解锁。',
	'Set finsec.password_max_age (at most 6 months, 3 months for application accounts) and give every login role a VALID UNTIL. Set finsec.max_auth_failures (e.g. 5), finsec.auth_failure_window, finsec.lockout_duration (e.g. 30min) and finsec.auth_failure_delay; administrators unlock with finsec.unlock_role().', NULL, true),
('004:8.3.4a-enh', 'JR/T 0117-2014', '8.3.4 a 增强要求', '{}',
	'应用安全：身份鉴别', 'Application security: identification and authentication',
	'身份鉴别：应对同一用户采用两种或两种以上组合的鉴别技术实现用户身份鉴别。',
	'Two or more authentication techniques are combined for the same user.',
	'automated', 'enhanced', 'compliance checks admin_strong_auth, hba_superuser_wide, hba_no_trust (pg_hba_file_rules)',
	'管理用户仅通过 hostssl 的 cert 或 cert+scram 认证登录，并在 pg_hba.conf 中限制其登录地址；删除 trust 与 0.0.0.0/0 超级用户规则。',
	'Administrators connect only over hostssl with cert (or cert plus scram) from restricted addresses in pg_hba.conf; remove trust lines and superuser lines open to 0.0.0.0/0.', 'related requirement digest ids: A11', true),
('004:8.3.4b', 'JR/T 0117-2014', '8.3.4 b', '{A17}',
	'应用安全：访问控制', 'Application security: access control',
	'访问控制：应提供访问控制功能，依据安全策略控制用户对文件、数据库表等客体的访问。访问控制的覆盖范围应包括与资源访问相关的主体、客体及它们之间的操作。应由授权主体配置访问控制策略，并严格限制默认账户的访问权限。应授予不同账户为完成各自承担任务所需的最小权限，并在它们之间形成相互制约的关系。',
	'Default accounts'' privileges strictly limited; no privilege escalation; no access to others'' resources.',
	'automated', NULL, 'compliance check public_privileges; RLS on customer tables (docs/security-model.md)',
	'撤销 PUBLIC 的 CREATE 及业务表权限（REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC），对客户数据表启用行级安全。',
	'Revoke PUBLIC CREATE and PUBLIC privileges on business tables (REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE ALL ON ... FROM PUBLIC); enable row-level security on customer tables.', NULL, true),
('004:8.3.4b-enh', 'JR/T 0117-2014', '8.3.4 b 增强要求', '{D4}',
	'应用安全：访问控制', 'Application security: access control',
	'访问控制：应具有对重要信息资源设置敏感标记的功能。应依据安全策略严格控制用户对有敏感标记重要信息资源的操作。',
	'Sensitivity labels on important information resources, with access controlled by them.',
	'automated', 'enhanced', 'SECURITY LABEL provider finsec (docs/protected-data.md); compliance check sensitive_columns_labelled',
	'为重要信息列设置敏感标记：SECURITY LABEL FOR finsec ON COLUMN t.c IS ''...''，并用 finsec.label_grant() 控制访问。',
	'Label important columns: SECURITY LABEL FOR finsec ON COLUMN t.c IS ''...'', and control access with finsec.label_grant().', NULL, true),
('004:8.3.4c', 'JR/T 0117-2014', '8.3.4 c', '{U1,U2}',
	'应用安全：安全审计', 'Application security: security audit',
	'安全审计：应提供覆盖到每个用户的安全审计功能，对用户权限及应用系统重要安全事件进行审计；应保证无法删除、修改或覆盖审计记录。审计记录的内容至少应包括事件日期、时间、发起者信息、类型、描述和结果等。',
	'Each record: date, time, user, event type, subject, object, success/result, description, origin. Records protected from deletion, modification, overwrite; the audit process cannot be interrupted alone.',
	'automated', NULL, 'audit ledger row format (docs/audit.md); append-only audit ledger with hash chain, finsec.audit_verify() (docs/audit.md); compliance check ledger_verified',
	'使用 finsec 审计账本（finsec.audit_event），其记录含日期时间、用户、事件类型、主客体、结果、描述和来源。定期运行 finsec.audit_verify() 并确认结果无误。',
	'Use the finsec audit ledger (finsec.audit_event): each record has date-time, user, event type, subject, object, result, description and origin. Run finsec.audit_verify() regularly and check its result.', NULL, true),
('004:8.3.4c-enh', 'JR/T 0117-2014', '8.3.4 c 增强要求', '{U4}',
	'应用安全：安全审计', 'Application security: security audit',
	'安全审计：应保证无法单独中断审计进程，无法删除、修改或覆盖审计记录。应提供对审计记录数据进行统计、查询、分析及生成审计报表的功能。',
	'Statistics, queries, analysis and audit reports.',
	'manual', 'enhanced', 'reports finsec.report_audit() and friends (docs/compliance.md)',
	'用 finsec.report_audit() 等报表函数生成审计统计与报表，并保留报表。',
	'Produce audit statistics and reports with finsec.report_audit() and the other report functions, and keep them.', NULL, true),
('004:8.3.4d', 'JR/T 0117-2014', '8.3.4 d', '{D6}',
	'应用安全：通信完整性', 'Application security: communication integrity',
	'通信完整性：应采用校验码技术保证通信过程中数据的完整性。',
	'Detect integrity damage of important data in storage and transmission.',
	'automated', NULL, 'row hash chains and finsec.ledger_verify(), protect_table (docs/audit.md); compliance check posted_tables_protected',
	'用 finsec.protect_table() 保护已记账的交易表，并定期运行 finsec.ledger_verify()/finsec.audit_verify()。',
	'Protect posted transaction tables with finsec.protect_table() and run finsec.ledger_verify() / finsec.audit_verify() regularly.', NULL, true),
('004:8.3.4d-enh', 'JR/T 0117-2014', '8.3.4 d 增强要求', '{D5,D10}',
	'应用安全：剩余信息保护', 'Application security: residual information protection',
	'剩余信息保护：应保证用户鉴别信息所在的存储空间被释放或再分配给其他用户前得到完全清除，无论这些信息是存放在硬盘上还是在内存中。应保证系统内的文件、目录和数据库记录等资源所在的存储空间被释放或重新分配给其他用户前得到完全清除。',
	'Residual information: memory holding credentials/keys cleared before reuse. Storage of freed database records cleared before reuse.',
	'manual', 'enhanced', 'C code zeroizes key and credential buffers (docs/keyring.md); crypto-shredding finsec.protect_shred(); VACUUM after purge (docs/protected-data.md)',
	'由 finsec 的 C 代码在释放前清零密钥与口令缓冲区；收集代码审查或测评报告作为证据。删除敏感数据后执行密钥粉碎（finsec.protect_shred()）并 VACUUM。',
	'finsec''s C code zeroes key and credential buffers before release; collect the code review or assessment report as evidence. After deleting sensitive data, crypto-shred (finsec.protect_shred()) and VACUUM.', NULL, true),
('004:8.3.4e', 'JR/T 0117-2014', '8.3.4 e', '{D6}',
	'应用安全：通信保密性', 'Application security: communication confidentiality',
	'通信保密性：在通信双方建立连接之前，应用系统应利用密码技术进行会话初始化验证。应对通信过程中的敏感信息字段进行加密。',
	'Detect integrity damage of important data in storage and transmission.',
	'automated', NULL, 'row hash chains and finsec.ledger_verify(), protect_table (docs/audit.md); compliance check posted_tables_protected',
	'用 finsec.protect_table() 保护已记账的交易表，并定期运行 finsec.ledger_verify()/finsec.audit_verify()。',
	'Protect posted transaction tables with finsec.protect_table() and run finsec.ledger_verify() / finsec.audit_verify() regularly.', NULL, true),
('004:8.3.4e-enh', 'JR/T 0117-2014', '8.3.4 e 增强要求', '{}',
	'应用安全：通信完整性', 'Application security: communication integrity',
	'通信完整性：应采用密码技术保证通信过程中数据的完整性。',
	'Cryptography protects the integrity of communication.',
	'automated', 'enhanced', 'compliance checks ssl_enabled, ssl_protocol, ssl_ciphers, hba_batch_clientcert',
	'设置 ssl = on、ssl_min_protocol_version = ''TLSv1.2''、强密码套件（如 HIGH:!aNULL:!MD5:!3DES:!RC4）；批量客户端在 pg_hba.conf 中使用 hostssl ... cert 或 clientcert=verify-full。',
	'Set ssl = on, ssl_min_protocol_version = ''TLSv1.2'', strong ciphers (e.g. HIGH:!aNULL:!MD5:!3DES:!RC4); batch clients use hostssl ... cert or clientcert=verify-full in pg_hba.conf.', 'related requirement digest ids: A12', true),
('004:8.3.4f', 'JR/T 0117-2014', '8.3.4 f', '{D14}',
	'应用安全：软件容错', 'Application security: fault tolerance',
	'软件容错：应提供数据有效性检验功能，保证通过人机接口输入或通过通信接口输入的数据格式或长度符合系统设定要求。在故障发生时，应用系统应能够继续提供一部分功能，确保能够实施必要的措施。',
	'Validity checks on input, imported credit data and query conditions.',
	'manual', NULL, 'identifier types; credit reason codes (docs/identifiers.md, docs/credit.md)',
	'输入与导入数据使用 finsec 校验类型，查询原因使用登记的原因代码。',
	'Use the finsec validated types for input and imported data, and registered reason codes for queries.', NULL, true),
('004:8.3.4f-enh', 'JR/T 0117-2014', '8.3.4 f 增强要求', '{}',
	'应用安全：通信保密性', 'Application security: communication confidentiality',
	'通信保密性：应对通信过程中的整个报文或会话过程进行加密。',
	'The whole message or session is encrypted.',
	'automated', 'enhanced', 'compliance checks ssl_enabled, ssl_protocol, ssl_ciphers, hba_batch_clientcert',
	'设置 ssl = on、ssl_min_protocol_version = ''TLSv1.2''、强密码套件（如 HIGH:!aNULL:!MD5:!3DES:!RC4）；批量客户端在 pg_hba.conf 中使用 hostssl ... cert 或 clientcert=verify-full。',
	'Set ssl = on, ssl_min_protocol_version = ''TLSv1.2'', strong ciphers (e.g. HIGH:!aNULL:!MD5:!3DES:!RC4); batch clients use hostssl ... cert or clientcert=verify-full in pg_hba.conf.', 'related requirement digest ids: A12', true),
('004:8.3.4g', 'JR/T 0117-2014', '8.3.4 g', '{A5}',
	'应用安全：资源控制', 'Application security: resource control',
	'资源控制：当应用系统通信双方中的一方在一段时间内未作任何响应时，另一方应能够自动结束会话。应能够对应用系统的最大并发会话连接数进行限制。应能够对单个账户的多重并发会话进行限制。',
	'Idle sessions end after a set time; limit concurrent sessions per account and in total.',
	'automated', NULL, 'compliance checks idle_session_timeout, connection_limits (docs/compliance.md)',
	'设置 idle_session_timeout、idle_in_transaction_session_timeout，并为登录角色设置 CONNECTION LIMIT（ALTER ROLE ... CONNECTION LIMIT n）。',
	'Set idle_session_timeout and idle_in_transaction_session_timeout, and give login roles a CONNECTION LIMIT (ALTER ROLE ... CONNECTION LIMIT n).', NULL, true),
('004:8.3.4g-enh', 'JR/T 0117-2014', '8.3.4 g 增强要求', '{M4}',
	'应用安全：抗抵赖', 'Application security: non-repudiation',
	'抗抵赖：应具有在请求的情况下为数据原发者或接收者提供数据原发证据的功能。应具有在请求的情况下为数据原发者或接收者提供数据接收证据的功能。',
	'Non-repudiation: proof of origin and of receipt.',
	'manual', 'enhanced', 'finsec.sign(), sign_receipt(), verify_receipt() (docs/signatures.md)',
	'用 finsec.sign()/finsec.sign_receipt() 生成原发与接收证据，登记签名者证书（finsec.register_signer()）。',
	'Produce proof of origin and receipt with finsec.sign() / finsec.sign_receipt(), with signer certificates registered (finsec.register_signer()).', NULL, true),
('004:8.3.4h-enh', 'JR/T 0117-2014', '8.3.4 h 增强要求', '{D13}',
	'应用安全：软件容错', 'Application security: fault tolerance',
	'软件容错：应提供自动保护功能，当故障发生时自动保护当前所有状态，保证系统能够进行恢复。',
	'No data lost after abnormal interruption; state protected on failure.',
	'automated', 'enhanced', 'compliance checks fsync, full_page_writes, data_checksums, synchronous_commit',
	'设置 fsync = on、full_page_writes = on、synchronous_commit = on，并以 initdb --data-checksums（或 pg_checksums --enable）启用数据校验。',
	'Set fsync = on, full_page_writes = on, synchronous_commit = on, and enable data checksums (initdb --data-checksums or pg_checksums --enable).', NULL, true),
('004:8.3.4i-enh', 'JR/T 0117-2014', '8.3.4 i 增强要求', '{A13}',
	'应用安全：资源控制', 'Application security: resource control',
	'资源控制：应能够对一个时间段内可能的并发会话连接数进行限制。应能够对一个访问账户或一个请求进程占用的资源分配最大限额和最小限额。应能够对系统服务水平降低到预先规定的最小值进行检测和报警。应提供服务优先级设定功能，并在安装后根据安全策略设定访问账户或请求进程的优先级，根据优先级分配系统资源。',
	'Limits on each user''s use of system resources; service priorities.',
	'automated', 'enhanced', 'compliance check resource_limits, connection_limits',
	'为应用角色设置 statement_timeout、temp_file_limit、work_mem（ALTER ROLE ... SET ...）及 CONNECTION LIMIT。',
	'Set statement_timeout, temp_file_limit and work_mem per application role (ALTER ROLE ... SET ...) and a CONNECTION LIMIT.', NULL, true),
('004:8.3.5a', 'JR/T 0117-2014', '8.3.5 a', '{D6}',
	'数据安全及备份恢复：数据完整性', 'Data security, backup and recovery: data integrity',
	'数据完整性：应能够检测到系统管理数据、鉴别信息和重要业务数据在传输过程中完整性受到破坏，并在检测到完整性错误时采取必要的恢复措施。应能够检测到系统管理数据、鉴别信息和重要业务数据在存储过程中完整性受到破坏，并在检测到完整性错误时采取必要的恢复措施。',
	'Detect integrity damage of important data in storage and transmission.',
	'automated', NULL, 'row hash chains and finsec.ledger_verify(), protect_table (docs/audit.md); compliance check posted_tables_protected',
	'用 finsec.protect_table() 保护已记账的交易表，并定期运行 finsec.ledger_verify()/finsec.audit_verify()。',
	'Protect posted transaction tables with finsec.protect_table() and run finsec.ledger_verify() / finsec.audit_verify() regularly.', NULL, true),
('004:8.3.5a-enh', 'JR/T 0117-2014', '8.3.5 a 增强要求', '{}',
	'数据安全及备份恢复：数据保密性', 'Data security, backup and recovery: data confidentiality',
	'数据保密性：征信系统应采用加密或其他有效措施实现系统管理数据、鉴别信息和重要业务数据传输保密性。征信系统应采用加密或其他保护措施实现系统管理数据、鉴别信息和重要业务数据存储保密性。',
	'Encryption or other measures keep system management data, credentials and important business data confidential in transmission and storage.',
	'automated', 'enhanced', 'protected types (finsec.protected_*), security labels (docs/protected-data.md); compliance check sensitive_columns_labelled',
	'敏感字段（姓名、联系方式、交易内容）改用 finsec 受保护类型加密存储，并以 SECURITY LABEL FOR finsec 标记。',
	'Store sensitive fields (names, contacts, transaction content) in finsec protected types and label them with SECURITY LABEL FOR finsec.', 'related requirement digest ids: D3', true),
('004:8.3.5b', 'JR/T 0117-2014', '8.3.5 b', '{D3}',
	'数据安全及备份恢复：数据保密性', 'Data security, backup and recovery: data confidentiality',
	'数据保密性：征信系统应采用加密或其他有效措施实现系统管理数据和鉴别信息传输保密性。征信系统应采用加密或其他保护措施实现系统管理数据和鉴别信息存储保密性。',
	'Sensitive fields (name, contact, transaction content) encrypted at rest; storage confidentiality of authentication data and important business data.',
	'automated', NULL, 'protected types (finsec.protected_*), security labels (docs/protected-data.md); compliance check sensitive_columns_labelled',
	'敏感字段（姓名、联系方式、交易内容）改用 finsec 受保护类型加密存储，并以 SECURITY LABEL FOR finsec 标记。',
	'Store sensitive fields (names, contacts, transaction content) in finsec protected types and label them with SECURITY LABEL FOR finsec.', NULL, true),
('004:8.3.5b-enh', 'JR/T 0117-2014', '8.3.5 b 增强要求', '{B6}',
	'数据安全及备份恢复：备份和恢复', 'Data security, backup and recovery: backup and recovery',
	'备份和恢复：数据备份应实现实时本地备份。应提供异地数据备份功能，利用通信网络将关键数据定时批量传送至备用场地。应采用冗余技术设计网络拓扑结构，避免关键节点存在单点故障。应提供主要网络设备、通信线路和数据处理系统的硬件冗余，保证系统的高可用性。',
	'Real-time local backup and off-site backup.',
	'automated', 'enhanced', 'compliance checks wal_archiving, realtime_offsite_backup',
	'开启 WAL 归档到异地仓库或流复制到异地备库，实现实时本地与异地备份。',
	'Archive WAL to an off-site repository or stream to an off-site standby for real-time local and off-site backup.', NULL, true),
('004:8.3.5c', 'JR/T 0117-2014', '8.3.5 c', '{B2}',
	'数据安全及备份恢复：备份和恢复', 'Data security, backup and recovery: backup and recovery',
	'备份和恢复：应提供本地数据备份与恢复功能，增量数据备份至少每天一次，完全数据备份至少每周一次，备份介质场外存放。应提供关键网络设备、通信线路和数据处理系统的硬件冗余，保证系统的可用性。',
	'Daily incremental and weekly full backups; restore tested.',
	'automated', NULL, 'backup register finsec.record_backup(); compliance checks backup_schedule, wal_archiving',
	'每天增量、每周全量备份并以 finsec.record_backup() 登记（如 pgBackRest 钩子），开启 WAL 归档。',
	'Take daily incremental and weekly full backups and record them with finsec.record_backup() (e.g. from a pgBackRest hook); enable WAL archiving.', NULL, true),
('004:9', 'JR/T 0117-2014', '9', '{D9}',
	'业务运作', 'Business operation',
	'9.1 系统接入系统接入应满足以下要求：a） 系统接入是指征信机构与信息提供者、信息使用者协议约定，通过接口规范接收信息提供者提供的征信业务数据，或者向信息使用者提供查询服务。通过非接口规范方式接收征信业务数据，或提供查询服务的征信机构，不适用本条规定。b） 征信机构应当建立外部机构接入征信系统的管理办法，明确信息提供者、信息使用者的接入条件、提交的申请材料、申请和审核程序等。c） 征信机构应当对外部机构申请接入征信系统的必要性、业务系统及业务现状、安全管理水平、网络条件等是否符合前款规定进行综合评估，确认符合条件的方可接入征信系统。……',
	'Real-name verification of customers; credit data keyed by ID numbers.',
	'manual', NULL, 'identifier types finsec.cn_resident_id, uscc, cn_mobile (docs/identifiers.md)',
	'客户证件号、统一社会信用代码、手机号使用 finsec 校验类型存储，实名认证流程由业务系统留存记录。',
	'Store resident IDs, unified social credit codes and phone numbers in the finsec validated types; the business system keeps the real-name verification records.', NULL, true),
('004:9.1', 'JR/T 0117-2014', '9.1', '{C8}',
	'系统接入', 'System access',
	'系统接入应满足以下要求：a） 系统接入是指征信机构与信息提供者、信息使用者协议约定，通过接口规范接收信息提供者提供的征信业务数据，或者向信息使用者提供查询服务。通过非接口规范方式接收征信业务数据，或提供查询服务的征信机构，不适用本条规定。b） 征信机构应当建立外部机构接入征信系统的管理办法，明确信息提供者、信息使用者的接入条件、提交的申请材料、申请和审核程序等。c） 征信机构应当对外部机构申请接入征信系统的必要性、业务系统及业务现状、安全管理水平、网络条件等是否符合前款规定进行综合评估，确认符合条件的方可接入征信系统。……',
	'Access and deregistration of information providers/users; no deregistration with open disputes.',
	'manual', NULL, 'institution registry finsec.credit_institution_* (docs/credit.md)',
	'信息提供者/使用者的接入与注销通过 finsec.credit_institution_apply()/deregister() 办理，有未结异议时不得注销。',
	'Provider/user access and deregistration go through finsec.credit_institution_apply() / deregister(); no deregistration with open disputes.', NULL, true),
('004:9.2', 'JR/T 0117-2014', '9.2', '{C8}',
	'系统注销', 'System deregistration',
	'系统注销应满足以下要求：a） 征信机构应当建立外部机构从征信系统注销的管理办法，明确信息提供者、信息使用者从征信系统注销的流程、提交的材料、时限要求、已提供信息的后续处理以及征信机构主动注销操作等事项。b） 征信机构应当按照规定流程对信息提供者、信息使用者的注销申请进行审核，确认申请机构不存在未结清业务数据、异议信息等遗留问题，审核通过后再进行注销操作。c） 停止经营活动且营业执照等已注销，但是不主动申请从征信系统注销的机构，征信机构经核实后可发起主动注销操作。',
	'Access and deregistration of information providers/users; no deregistration with open disputes.',
	'manual', NULL, 'institution registry finsec.credit_institution_* (docs/credit.md)',
	'信息提供者/使用者的接入与注销通过 finsec.credit_institution_apply()/deregister() 办理，有未结异议时不得注销。',
	'Provider/user access and deregistration go through finsec.credit_institution_apply() / deregister(); no deregistration with open disputes.', NULL, true),
('004:9.3a', 'JR/T 0117-2014', '9.3 a', '{C14}',
	'用户管理：内部用户管理', 'User management: internal users',
	'内部用户管理：征信机构应当建立征信系统内部用户管理制度，明确各类内部用户的申请、创建、变更、终止及用户操作等相关要求，关键岗位不得互相兼任。',
	'Internal users'' application, creation, change, termination; periodic review of rights and operations.',
	'manual', NULL, 'access review report finsec.report_access_review() (docs/compliance.md)',
	'定期运行 finsec.report_access_review() 检查内外部用户设置、权限与操作，并记录复核结论。',
	'Run finsec.report_access_review() periodically to review users, rights and operations, and record the conclusions.', NULL, true),
('004:9.3b', 'JR/T 0117-2014', '9.3 b', '{}',
	'用户管理：外部用户管理', 'User management: external users',
	'外部用户管理：征信机构应当要求通过接口方式接入征信系统的外部机构（信息提供者、信息使用者）制定用户管理制度，明确管理员用户、数据查询用户、数据报送用户、异议处理用户等的职责和权限，建立各类用户的操作规程。征信机构应当规范管理通过非接口方式访问征信系统的外部用户，合理配置其访问权限，采取必要措施防范外部用户操作风险。',
	'External institutions connected by interface have user management rules (administrators, query, reporting, dispute users); non-interface external users get least access.',
	'manual', NULL, 'access review report finsec.report_access_review() (docs/compliance.md)',
	'定期运行 finsec.report_access_review() 检查内外部用户设置、权限与操作，并记录复核结论。',
	'Run finsec.report_access_review() periodically to review users, rights and operations, and record the conclusions.', 'related requirement digest ids: C14', true),
('004:9.3c', 'JR/T 0117-2014', '9.3 c', '{W4}',
	'用户管理', 'User management',
	'征信机构应当建立征信系统监控制度，对内部用户和外部用户的异常操作行为进行监控，必要时采取措施暂停违规用户权限，保障征信系统安全运行。',
	'Abnormal operations by internal/external users and abnormal credit queries: suspend the user''s rights.',
	'manual', NULL, 'monitor and finsec.credit_user_set() suspension (docs/monitor.md, docs/credit.md)',
	'监控内外部用户异常操作和异常查询，必要时暂停其权限（finsec.credit_user_set()）。',
	'Monitor abnormal operations and queries and suspend the user''s rights when needed (finsec.credit_user_set()).', NULL, true),
('004:9.3d', 'JR/T 0117-2014', '9.3 d', '{C14}',
	'用户管理', 'User management',
	'征信机构应当定期对内外部用户的设置、用户权限、用户操作及用户管理制度的执行情况等进行检查。',
	'Internal users'' application, creation, change, termination; periodic review of rights and operations.',
	'manual', NULL, 'access review report finsec.report_access_review() (docs/compliance.md)',
	'定期运行 finsec.report_access_review() 检查内外部用户设置、权限与操作，并记录复核结论。',
	'Run finsec.report_access_review() periodically to review users, rights and operations, and record the conclusions.', NULL, true),
('004:9.4.1a', 'JR/T 0117-2014', '9.4.1 a', '{}',
	'接口规范方式', 'Interface-specification submission',
	'征信机构应当制定合适的信息采集流程和处理策略，明确信息采集的范围、内容、方式和频次、报文接收与反馈、意外事件处理及相关岗位职责等，合理控制报文加载顺序、进度，确保征信信息及时加载入库。',
	'An information collection process and policy: scope, content, frequency, message handling, exceptions and duties.',
	'manual', NULL, 'file register finsec.credit_file_register(), credit_file_feedback() (docs/credit.md)',
	'登记报文文件（finsec.credit_file_register()），反馈加载结果与错误（finsec.credit_file_feedback()）。',
	'Register provider files (finsec.credit_file_register()) and return load results and errors (finsec.credit_file_feedback()).', 'related requirement digest ids: C9', true),
('004:9.4.1b', 'JR/T 0117-2014', '9.4.1 b', '{C9}',
	'接口规范方式', 'Interface-specification submission',
	'征信机构接收信息提供者按照征信系统接口规范生成的征信业务数据报文，记录报文登记信息，自动进行解密和加载处理，业务操作人员应及时跟踪报文的接收和处理情况。',
	'Provider files registered; feedback and load errors returned to the provider.',
	'manual', NULL, 'file register finsec.credit_file_register(), credit_file_feedback() (docs/credit.md)',
	'登记报文文件（finsec.credit_file_register()），反馈加载结果与错误（finsec.credit_file_feedback()）。',
	'Register provider files (finsec.credit_file_register()) and return load results and errors (finsec.credit_file_feedback()).', NULL, true),
('004:9.4.1c', 'JR/T 0117-2014', '9.4.1 c', '{C9}',
	'接口规范方式', 'Interface-specification submission',
	'征信系统对征信业务数据报文进行处理时，加载成功的信息，按照征信系统接口规范生成反馈报文，反馈给信息提供者。',
	'Provider files registered; feedback and load errors returned to the provider.',
	'manual', NULL, 'file register finsec.credit_file_register(), credit_file_feedback() (docs/credit.md)',
	'登记报文文件（finsec.credit_file_register()），反馈加载结果与错误（finsec.credit_file_feedback()）。',
	'Register provider files (finsec.credit_file_register()) and return load results and errors (finsec.credit_file_feedback()).', NULL, true),
('004:9.4.1d', 'JR/T 0117-2014', '9.4.1 d', '{C9}',
	'接口规范方式', 'Interface-specification submission',
	'征信系统对征信业务数据报文进行处理时，加载异常的信息，征信系统应将错误信息反馈给信息提供者，由其进行重报。征信机构业务操作人员应及时联系信息提供者相关人员，进行跟踪处理。',
	'Provider files registered; feedback and load errors returned to the provider.',
	'manual', NULL, 'file register finsec.credit_file_register(), credit_file_feedback() (docs/credit.md)',
	'登记报文文件（finsec.credit_file_register()），反馈加载结果与错误（finsec.credit_file_feedback()）。',
	'Register provider files (finsec.credit_file_register()) and return load results and errors (finsec.credit_file_feedback()).', NULL, true),
('004:9.4.2a', 'JR/T 0117-2014', '9.4.2 a', '{}',
	'非接口规范方式', 'Non-interface submission',
	'征信机构应当制定通过手工录入、介质导入等非接口方式采集信息的具体流程，明确信息采集范围、内容、方式和频次、信息审核、错误数据修改及相关岗位职责等。',
	'A procedure for manual entry and media import: scope, review, error correction and duties.',
	'manual', NULL, 'finsec.credit_correction() two-person (docs/credit.md)',
	'数据修改只通过 finsec.credit_correction() 专门流程并经双人批准。',
	'Corrections only through finsec.credit_correction(), approved by two people.', 'related requirement digest ids: C10', true),
('004:9.4.2b', 'JR/T 0117-2014', '9.4.2 b', '{}',
	'非接口规范方式', 'Non-interface submission',
	'征信机构应当对信息来源和内容进行审核，审核通过后再发起手工录入、介质导入等操作。',
	'Source and content are reviewed before manual entry or media import.',
	'manual', NULL, 'finsec.credit_correction() two-person (docs/credit.md)',
	'数据修改只通过 finsec.credit_correction() 专门流程并经双人批准。',
	'Corrections only through finsec.credit_correction(), approved by two people.', 'related requirement digest ids: C10', true),
('004:9.4.2c', 'JR/T 0117-2014', '9.4.2 c', '{D14,C10}',
	'非接口规范方式', 'Non-interface submission',
	'征信系统应当对手工录入、介质导入的征信业务数据进行合法性校验，无法正常录入征信系统的信息，由业务操作人员通过专门数据修改流程进行核查处理。',
	'Validity checks on input, imported credit data and query conditions. Corrections only through a dedicated, approved modification process.',
	'manual', NULL, 'identifier types; credit reason codes (docs/identifiers.md, docs/credit.md); finsec.credit_correction() two-person (docs/credit.md)',
	'输入与导入数据使用 finsec 校验类型，查询原因使用登记的原因代码。数据修改只通过 finsec.credit_correction() 专门流程并经双人批准。',
	'Use the finsec validated types for input and imported data, and registered reason codes for queries. Corrections only through finsec.credit_correction(), approved by two people.', NULL, true),
('004:9.5', 'JR/T 0117-2014', '9.5', '{C6}',
	'信息加工', 'Information processing',
	'信息加工应满足以下要求：a） 征信机构对采集的信息进行整理，形成信用报告等基础征信产品，应当遵循客观性原则，不得擅自更改原始数据。b） 征信机构对采集的信息进行加工，形成信用评分、信用评级及其他增值类征信产品，不得擅自更改原始数据；同时，征信机构还应对信息加工所采用的方法和模型作出说明，便于信息使用者、信息主体理解和接受。',
	'Processing never alters original collected data.',
	'automated', NULL, 'raw credit data immutable (finsec.protect_table(); docs/credit.md); compliance check posted_tables_protected',
	'原始采集数据表以 finsec.protect_table() 保护，加工结果另表保存。',
	'Protect raw collected data tables with finsec.protect_table(); keep processing results in separate tables.', NULL, true),
('004:9.6a', 'JR/T 0117-2014', '9.6 a', '{C11}',
	'信息保存', 'Information retention',
	'征信系统应在一定时期内保存对外交互过程中产生的信息文件，如信息提供者的原始报文文件、反馈文件、信息查询文件等；同时应保存交互时间、交互对方系统信息、交互是否成功等日志信息，以便事后可追查；对征信系统的交互信息文件和日志文件进行严格的权限控制和操作审计，防止个人信息泄露。',
	'Every data exchange logged (time, counterparty system, success), access controlled.',
	'manual', NULL, 'exchange log finsec.credit_exchange_log() (docs/credit.md)',
	'每次数据交互以 finsec.credit_exchange_log() 记录时间、对方系统及是否成功。',
	'Log every data exchange with finsec.credit_exchange_log(): time, counterparty system, success.', NULL, true),
('004:9.6b', 'JR/T 0117-2014', '9.6 b', '{C3}',
	'信息保存', 'Information retention',
	'征信系统采集的个人不良信息应当按照法律法规规定的期限进行保存；超过保存期限的个人不良信息，应当从征信系统中删除，或者进行去标识化处理，移入非生产数据库保存。',
	'Negative information past its legal retention is deleted, or de-identified and moved to a non-production store, so the person cannot be identified directly or indirectly.',
	'manual', NULL, 'de-identification worker, finsec.deidentify_now(), deid_verify() (docs/credit.md)',
	'超过保存期限的不良信息由去标识化后台任务删除或去标识化，用 finsec.deid_verify() 验证。',
	'Negative information past retention is deleted or de-identified by the worker; verify with finsec.deid_verify().', NULL, true),
('004:9.6c', 'JR/T 0117-2014', '9.6 c', '{C3}',
	'信息保存', 'Information retention',
	'征信机构应当采取有效措施，确保个人不良信息去标识化处理后，个人身份不被直接或间接识别。',
	'Negative information past its legal retention is deleted, or de-identified and moved to a non-production store, so the person cannot be identified directly or indirectly.',
	'manual', NULL, 'de-identification worker, finsec.deidentify_now(), deid_verify() (docs/credit.md)',
	'超过保存期限的不良信息由去标识化后台任务删除或去标识化，用 finsec.deid_verify() 验证。',
	'Negative information past retention is deleted or de-identified by the worker; verify with finsec.deid_verify().', NULL, true),
('004:9.7a', 'JR/T 0117-2014', '9.7 a', '{C1,D14}',
	'信息查询：单笔信息查询', 'Information queries: single queries',
	'单笔信息查询：征信系统应当对查询用户输入的查询条件设置一定的校验规则，并在用户查询时进行有效性检查。征信系统应当记录查询用户所属机构、查询用户、查询时间、查询原因、被查询对象等信息。',
	'Each query logs institution, user, time, reason, subject; batch query files record the same plus counts. Validity checks on input, imported credit data and query conditions.',
	'manual', NULL, 'credit query log finsec.credit_query() (docs/credit.md); identifier types; credit reason codes (docs/identifiers.md, docs/credit.md)',
	'征信查询通过 finsec.credit_query()/credit_batch_query() 进行，自动记录机构、用户、时间、原因、对象及笔数。输入与导入数据使用 finsec 校验类型，查询原因使用登记的原因代码。',
	'Credit queries go through finsec.credit_query() / credit_batch_query(), which log institution, user, time, reason, subject and counts. Use the finsec validated types for input and imported data, and registered reason codes for queries.', NULL, true),
('004:9.7b', 'JR/T 0117-2014', '9.7 b', '{C1}',
	'信息查询：批量信息查询', 'Information queries: batch queries',
	'批量信息查询：查询机构应当按照规定的格式填写批量查询请求文件，请求文件的内容至少应包括查询用户所属机构、查询用户、查询时间、查询原因、查询内容、被查询对象、查询请求记录数等，征信系统应当对上述内容予以记载。征信机构应当通过专线、加密通道或专用存储设备等安全、可靠的方式将批量查询结果文件反馈给查询机构。',
	'Each query logs institution, user, time, reason, subject; batch query files record the same plus counts.',
	'manual', NULL, 'credit query log finsec.credit_query() (docs/credit.md)',
	'征信查询通过 finsec.credit_query()/credit_batch_query() 进行，自动记录机构、用户、时间、原因、对象及笔数。',
	'Credit queries go through finsec.credit_query() / credit_batch_query(), which log institution, user, time, reason, subject and counts.', NULL, true),
('004:9.7c', 'JR/T 0117-2014', '9.7 c', '{W4,C2}',
	'信息查询', 'Information queries',
	'信息使用者发生异常查询的，征信机构可以采取暂停查询权限等紧急措施，并及时核查异常查询产生的原因。',
	'Abnormal operations by internal/external users and abnormal credit queries: suspend the user''s rights. Abnormal queries: suspend query rights, investigate.',
	'manual', NULL, 'monitor and finsec.credit_user_set() suspension (docs/monitor.md, docs/credit.md); monitor + finsec.credit_user_set() suspension (docs/credit.md)',
	'监控内外部用户异常操作和异常查询，必要时暂停其权限（finsec.credit_user_set()）。发现异常查询时暂停查询权限（finsec.credit_user_set()）并调查原因。',
	'Monitor abnormal operations and queries and suspend the user''s rights when needed (finsec.credit_user_set()). On abnormal queries, suspend query rights (finsec.credit_user_set()) and investigate.', NULL, true),
('004:9.8', 'JR/T 0117-2014', '9.8', '{C5}',
	'异议处理', 'Dispute handling',
	'异议处理应满足以下要求：a） 征信机构应当建立异议处理制度，对异议申请与受理、内外部核查、异议信息更正等事项作出明确规定。b） 异议处理人员查询信息主体信用报告，应当严格按照异议处理制度及流程执行，并进行登记，不得将信用报告用于异议处理以外的用途。c） 征信机构应当对异议信息核查情况予以记载。核查无误的，不得更改相关信息；核查有误的，按照规定予以更正，或者通知信息提供者提供更新后的信息；核查后仍不能确认的，应允许信息主体提出“个人声明”，并在征信系统中记载。',
	'Disputes: requests, checks, corrections, personal statements recorded.',
	'manual', NULL, 'dispute records finsec.credit_dispute_* (docs/credit.md)',
	'异议通过 finsec.credit_dispute_open()/credit_dispute_resolve() 登记与处理。',
	'Record and handle disputes with finsec.credit_dispute_open() / credit_dispute_resolve().', NULL, true),
('004:9.8a', 'JR/T 0117-2014', '9.8 a', '{}',
	'异议处理', 'Dispute handling',
	'征信机构应当建立异议处理制度，对异议申请与受理、内外部核查、异议信息更正等事项作出明确规定。',
	'Dispute rules cover applications, acceptance, internal and external checks and corrections.',
	'manual', NULL, 'dispute records finsec.credit_dispute_* (docs/credit.md)',
	'异议通过 finsec.credit_dispute_open()/credit_dispute_resolve() 登记与处理。',
	'Record and handle disputes with finsec.credit_dispute_open() / credit_dispute_resolve().', 'related requirement digest ids: C5', true),
('004:9.8b', 'JR/T 0117-2014', '9.8 b', '{C13}',
	'异议处理', 'Dispute handling',
	'异议处理人员查询信息主体信用报告，应当严格按照异议处理制度及流程执行，并进行登记，不得将信用报告用于异议处理以外的用途。',
	'Dispute handlers'' queries registered and used only for the dispute; verified data not changed.',
	'manual', NULL, 'disputes: finsec.credit_dispute_check() (docs/credit.md)',
	'异议处理人员的查询登记并仅用于异议处理；核查无误的数据不得修改。',
	'Dispute handlers'' queries are registered and used only for the dispute; verified data is not changed.', NULL, true),
('004:9.8c', 'JR/T 0117-2014', '9.8 c', '{C13}',
	'异议处理', 'Dispute handling',
	'征信机构应当对异议信息核查情况予以记载。核查无误的，不得更改相关信息；核查有误的，按照规定予以更正，或者通知信息提供者提供更新后的信息；核查后仍不能确认的，应允许信息主体提出“个人声明”，并在征信系统中记载。',
	'Dispute handlers'' queries registered and used only for the dispute; verified data not changed.',
	'manual', NULL, 'disputes: finsec.credit_dispute_check() (docs/credit.md)',
	'异议处理人员的查询登记并仅用于异议处理；核查无误的数据不得修改。',
	'Dispute handlers'' queries are registered and used only for the dispute; verified data is not changed.', NULL, true),
('004:9.9', 'JR/T 0117-2014', '9.9', '{C7}',
	'信息跨境流动', 'Cross-border information flow',
	'信息跨境流动应满足以下要求：a） 征信机构在中国境内开展征信业务及相关活动，其生产数据库、备份数据库应设在中国境内。b） 征信机构对采集的信息进行整理、保存和加工等活动，应当在中国境内进行，不得通过网络或携带存储介质出境等方式，将采集的信息传输至境外。c） 征信机构向境外组织和个人提供信息，应当遵守法律法规和中国人民银行的有关规定。',
	'Production and backup databases in China; no transfer abroad.',
	'automated', NULL, 'compliance check outbound_links against finsec.outbound_allow (docs/credit.md)',
	'删除未经批准的外部链接（FDW 服务器、订阅、dblink），或经双人批准加入 finsec.outbound_allow。',
	'Remove unapproved outbound links (FDW servers, subscriptions, dblink), or add them to finsec.outbound_allow with two-person approval.', NULL, true),
('004:9.10', 'JR/T 0117-2014', '9.10', '{C4}',
	'研究分析', 'Research and analysis',
	'研究分析应满足以下要求：a） 征信机构基于理论研究、模型设计、产品开发等目的使用个人信息的，应当以汇总统计数据或者不能识别个人身份的方式进行。b） 征信机构的研究成果只能在个人身份不被识别的情况下予以披露、发表或者传播。',
	'Research uses only aggregates or non-identifying data.',
	'manual', NULL, 'de-identified views, finsec.deid_aggregate() (docs/credit.md)',
	'研究分析只使用 finsec_research 可见的汇总或去标识化数据。',
	'Research uses only the aggregates or de-identified data visible to finsec_research.', NULL, true),
('004:9.11', 'JR/T 0117-2014', '9.11', '{}',
	'安全检查与评估', 'Security inspection and assessment',
	'安全检查与评估应满足以下要求：a） 征信机构应当定期检查征信系统的安全建设和运行情况，可通过自评估或委托评估方式对征信系统进行安全评估，分析、发现并解决征信系统在管理制度、技术措施和业务操作等方面存在的问题，保障征信系统安全运行和信用信息合规使用。b） 征信机构应建立信息泄漏应急处置制度，发生或者有可能发生重大信息泄露事件时，应当立即采取必要措施，避免损害扩大，并向中国人民银行及其派出机构报告。',
	'The institution regularly inspects and assesses the credit system''s security and has an incident plan for information leaks.',
	'manual', NULL, 'organisational (outside the database)',
	'组织或应用层要求，数据库无法直接验证：审计人员收集“安全检查与评估”相关的制度文件、操作记录和现场检查证据。',
	'An organisational or application requirement the database cannot verify: the auditor collects the policy documents, operating records and on-site evidence for: Security inspection and assessment.', NULL, true);

-- (end of section 1b)



-- ---------------------------------------------------------------------
-- 2. finsec.compliance_check(standard, lang) and compliance_exclude.
-- ---------------------------------------------------------------------

/*
 * Builtin catalog rows (builtin true) are finsec's: only finsec's own
 * extension scripts add, change or remove them.  The customer's rows
 * (builtin false) are kept by pg_dump and written through the functions
 * below (finsec_admin; audited) - nobody else has any privilege on the
 * tables but SELECT.  The guard also stops the extension's owner or a
 * superuser from editing a builtin row by hand (short of disabling it).
 */
CREATE FUNCTION finsec._compliance_in_own_script()
RETURNS boolean
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'finsec_compliance_in_own_script';
REVOKE ALL ON FUNCTION finsec._compliance_in_own_script() FROM PUBLIC;

CREATE FUNCTION finsec._compliance_catalog_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	touches_builtin boolean := false;
BEGIN
	IF finsec._compliance_in_own_script() THEN
		IF TG_OP = 'DELETE' THEN
			RETURN OLD;
		END IF;
		RETURN NEW;
	END IF;
	IF TG_OP = 'INSERT' THEN
		touches_builtin := NEW.builtin;
	ELSIF TG_OP = 'UPDATE' THEN
		touches_builtin := OLD.builtin OR NEW.builtin;
	ELSE
		touches_builtin := OLD.builtin;
	END IF;
	IF touches_builtin THEN
		RAISE EXCEPTION 'the builtin rows of %.% belong to finsec', TG_TABLE_SCHEMA, TG_TABLE_NAME
			USING ERRCODE = 'S9Q07',
				  DETAIL = 'Only finsec''s own extension scripts add, change or remove builtin rows of the compliance catalog.',
				  HINT = 'Add the customer''s own rows with finsec.clause_add, finsec.compliance_check_add or finsec.clause_check_add; to switch a builtin check off for a clause, request finsec.compliance_exclude.';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_catalog_guard() FROM PUBLIC;

CREATE TRIGGER clause_guard BEFORE INSERT OR UPDATE OR DELETE ON finsec.clause
	FOR EACH ROW EXECUTE FUNCTION finsec._compliance_catalog_guard();
CREATE TRIGGER compliance_check_def_guard BEFORE INSERT OR UPDATE OR DELETE ON finsec.compliance_check_def
	FOR EACH ROW EXECUTE FUNCTION finsec._compliance_catalog_guard();
CREATE TRIGGER clause_check_guard BEFORE INSERT OR UPDATE OR DELETE ON finsec.clause_check
	FOR EACH ROW EXECUTE FUNCTION finsec._compliance_catalog_guard();
-- ALWAYS: also with session_replication_role = replica, which a superuser
-- sets with a plain SET (no DDL in the ledger) to skip ordinary triggers.
ALTER TABLE finsec.clause ENABLE ALWAYS TRIGGER clause_guard;
ALTER TABLE finsec.compliance_check_def ENABLE ALWAYS TRIGGER compliance_check_def_guard;
ALTER TABLE finsec.clause_check ENABLE ALWAYS TRIGGER clause_check_guard;

SELECT pg_catalog.pg_extension_config_dump('finsec.clause', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('finsec.compliance_check_def', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('finsec.clause_check', 'WHERE NOT builtin');

/*
 * Exclusions: a check (or a whole clause) that does not apply, with the
 * justification, the two administrators who agreed (a change request of
 * kind compliance.exclude) and an end.  compliance_check() still runs an
 * excluded check and shows its actual result next to the exclusion.
 */
CREATE TABLE finsec.compliance_exclusion (
	exclusion_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	clause_id		text NOT NULL REFERENCES finsec.clause ON UPDATE CASCADE ON DELETE CASCADE,
	check_name		text,					-- NULL: the whole clause
	justification	text NOT NULL CHECK (length(btrim(justification)) >= 20),
	valid_from		timestamptz NOT NULL DEFAULT now(),
	valid_until		timestamptz NOT NULL CHECK (valid_until > valid_from),
	requested_by	name NOT NULL,
	approved_by		name NOT NULL,
	request_id		bigint NOT NULL,
	ended_at		timestamptz,
	ended_by		name,
	end_reason		text,
	CHECK ((ended_at IS NULL) = (ended_by IS NULL))
);
CREATE UNIQUE INDEX compliance_exclusion_open_idx
	ON finsec.compliance_exclusion (clause_id, coalesce(check_name, '')) WHERE ended_at IS NULL;
COMMENT ON TABLE finsec.compliance_exclusion IS
	'checks or clauses excluded from finsec.compliance_check(), with the justification, requester, approver and validity (two-person: finsec.compliance_exclude)';
REVOKE ALL ON TABLE finsec.compliance_exclusion FROM PUBLIC;
GRANT SELECT ON TABLE finsec.compliance_exclusion TO finsec_admin, finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.compliance_exclusion', '');
SELECT pg_catalog.pg_extension_config_dump(pg_get_serial_sequence('finsec.compliance_exclusion', 'exclusion_id')::regclass, '');

/* The clause's own number, for ordering: 6.4.1.10 after 6.4.1.9. */
CREATE FUNCTION finsec._clause_sort_key(clause text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT string_agg(CASE WHEN x.m[1] ~ '^[0-9]+$' THEN lpad(length(x.m[1])::text, 3, '0') || x.m[1] ELSE x.m[1] END,
					  '' ORDER BY x.n)
	  FROM regexp_matches($1, '[0-9]+|[^0-9]+', 'g') WITH ORDINALITY AS x(m, n)
$$;
REVOKE ALL ON FUNCTION finsec._clause_sort_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._clause_sort_key(text) TO finsec_admin, finsec_auditor;

/* The standard code a filter names: a code (any case), or a seed number. */
CREATE FUNCTION finsec._compliance_standard(standard text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s text := btrim(standard);
	code text;
BEGIN
	IF standard IS NULL THEN
		RETURN NULL;
	END IF;
	code := CASE s WHEN '001' THEN 'JR/T 0199-2020' WHEN '002' THEN 'JR/T 0096.5-2012'
				   WHEN '003' THEN 'PAY-FAC-V3.0' WHEN '004' THEN 'JR/T 0117-2014' END;
	IF code IS NULL THEN
		SELECT min(c.standard) INTO code FROM finsec.clause c WHERE lower(c.standard) = lower(s);
	END IF;
	IF code IS NULL THEN
		RAISE EXCEPTION 'standard "%" is not in the compliance catalog', left(s, 100)
			USING ERRCODE = 'S9Q01',
				  DETAIL = 'finsec.clause has no clause of that standard.',
				  HINT = 'Name a standard by its code or its seed number (001 to 004): '
						 || (SELECT string_agg(DISTINCT c.standard, ', ' ORDER BY c.standard) FROM finsec.clause c)
						 || '; NULL checks them all.';
	END IF;
	RETURN code;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_standard(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_standard(text) TO finsec_admin, finsec_auditor;

/* The report language: zh_CN (also zh) or en; NULL is finsec.report_language. */
CREATE FUNCTION finsec._compliance_lang(lang text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := coalesce(lang, current_setting('finsec.report_language'));
BEGIN
	IF l IN ('zh_CN', 'zh') THEN
		RETURN 'zh_CN';
	ELSIF l = 'en' THEN
		RETURN 'en';
	END IF;
	RAISE EXCEPTION 'report language "%" is not supported', left(l, 100)
		USING ERRCODE = 'S9Q02',
			  DETAIL = 'finsec writes its compliance results in Chinese or English.',
			  HINT = 'Pass zh_CN (or zh) or en, or NULL for finsec.report_language.';
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_lang(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_lang(text) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Whether a check function may run under the caller's privileges, and how
 * to call it.  A builtin check must be a member of the finsec extension; a
 * customer's check must be owned by a superuser (a function a non-superuser
 * owns can be redefined by that role, and would then run as the auditor or
 * a superuser calling compliance_check()); neither may be SECURITY DEFINER
 * (a check sees what its caller sees); the shape must be the calling
 * convention's.  Returns NULL when it may run (and the call text in
 * call_sql), else the reason.
 */
CREATE FUNCTION finsec._compliance_check_trust(fn oid, builtin boolean, OUT reason text, OUT call_sql text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p record;
BEGIN
	SELECT pr.oid, n.nspname, pr.proname, pr.prosecdef, pr.prokind, pr.proretset, pr.pronargs,
		   pr.proargtypes, pr.proallargtypes, pr.proargmodes, pr.proargnames, r.rolsuper AS owner_super
	  INTO p
	  FROM pg_proc pr JOIN pg_namespace n ON n.oid = pr.pronamespace
	  LEFT JOIN pg_roles r ON r.oid = pr.proowner
	 WHERE pr.oid = fn;
	IF NOT FOUND THEN
		reason := 'check function does not exist';
		RETURN;
	END IF;
	IF builtin THEN
		IF NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
						WHERE d.classid = 'pg_proc'::regclass AND d.objid = fn
						  AND d.refclassid = 'pg_extension'::regclass AND e.extname = 'finsec'
						  AND d.deptype = 'e') THEN
			reason := 'builtin check function is not a member of the finsec extension';
			RETURN;
		END IF;
	ELSIF NOT coalesce(p.owner_super, false) THEN
		reason := 'check function owned by a non-superuser';
		RETURN;
	END IF;
	IF p.prosecdef THEN
		reason := 'check function is SECURITY DEFINER';
		RETURN;
	END IF;
	IF p.prokind <> 'f' OR p.proretset OR p.pronargs <> 1 OR p.proargtypes[0] <> 'jsonb'::regtype
	   OR p.proallargtypes IS DISTINCT FROM ARRAY['jsonb'::regtype, 'text'::regtype, 'jsonb'::regtype]::oid[]
	   OR p.proargmodes IS DISTINCT FROM ARRAY['i', 'o', 'o']::"char"[]
	   OR p.proargnames[2:3] IS DISTINCT FROM ARRAY['status', 'evidence']::text[] THEN
		reason := 'check function does not have the shape (args jsonb, OUT status text, OUT evidence jsonb)';
		RETURN;
	END IF;
	-- The schema and name with the exact argument type jsonb resolve to
	-- this very function (one function per name and signature in a schema).
	call_sql := format('SELECT r.status, r.evidence FROM %I.%I($1::jsonb) AS r', p.nspname, p.proname);
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_check_trust(oid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_check_trust(oid, boolean) TO finsec_admin, finsec_auditor;

/*
 * One ledger row per run of compliance_check() (the caller is recorded as
 * the actor).  A finsec_auditor may not call finsec.audit_event() itself,
 * so this narrow definer writes only the compliance.check event, and only
 * when called by finsec._compliance_run() (the PL/pgSQL call stack says
 * so): an auditor cannot forge a run's counts by calling it directly.
 */
CREATE FUNCTION finsec._compliance_record(standard text, lang text, counts jsonb, total integer, started timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	stack text;
	expected constant text := 'PL/pgSQL function finsec._compliance_run(text,text) line ';
BEGIN
	GET DIAGNOSTICS stack = PG_CONTEXT;
	-- Line 1 is this function, 2 the PERFORM's statement, 3 its caller.
	IF split_part(stack, E'\n', 2) IS DISTINCT FROM 'SQL statement "SELECT finsec._compliance_record(std, l, counts, total, started)"'
	   OR left(split_part(stack, E'\n', 3), length(expected)) IS DISTINCT FROM expected THEN
		RAISE EXCEPTION 'finsec._compliance_record records only runs of finsec.compliance_check()'
			USING ERRCODE = 'S9Q09',
				  HINT = 'Call finsec.compliance_check(); it records its own run in the ledger.';
	END IF;
	RETURN finsec.audit_event('compliance.check', 'compliance_check', 'check', true, NULL,
							  jsonb_build_object('standard', standard, 'lang', lang, 'rows', total,
												 'counts', counts,
												 'duration_ms', round(extract(epoch FROM clock_timestamp() - started) * 1000)));
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_record(text, text, jsonb, integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_record(text, text, jsonb, integer, timestamptz) TO finsec_admin, finsec_auditor;

/*
 * The self-check proper (compliance_check() is its public face: a function
 * cannot have an input and an output both called standard in PL/pgSQL).
 * SECURITY INVOKER: every check sees what the caller sees.
 */
CREATE FUNCTION finsec._compliance_run(std_filter text, lang_in text)
RETURNS TABLE (clause_id text, standard text, clause text, check_name text, requirement text,
			   status text, evidence jsonb, remediation text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- The checks' catalog queries over 10,000 tables cost above
-- jit_above_cost: compiling them took longer than running them (0.6 s
-- for finsec.status_limits() alone).  JIT never changes a result.
SET jit = off
AS $$
DECLARE
	l text := finsec._compliance_lang(lang_in);
	std text := finsec._compliance_standard(std_filter);
	allowed constant text[] := ARRAY['pass', 'fail', 'warn', 'cannot_verify', 'out_of_scope'];
	caller_auth constant text := current_setting('session_authorization');
	caller_role constant text := current_setting('role');
	-- Settings the checks judge that any caller may SET in its session
	-- (password_encryption = scram-sha-256 just for the self-check): the
	-- checks see them as the server and the role settings give them.
	judged constant text[] := ARRAY['password_encryption', 'idle_session_timeout',
									'idle_in_transaction_session_timeout', 'log_statement',
									'log_min_duration_statement', 'pgaudit.log'];
	session_set jsonb := '{}';
	gs record;
	started timestamptz := clock_timestamp();
	c record;
	m record;
	t record;
	ex record;
	st text;
	ev jsonb;
	nmap integer;
	counts jsonb := '{}';
	total integer := 0;
	-- Each distinct (check, args) runs once per run: its (status,
	-- evidence) serves every clause it is mapped onto (password_max_age
	-- judges 7 clauses with the same args).  Likewise the trust of each
	-- check function is judged once.  Exclusions stay per clause.
	run_keys text[] := '{}';
	run_sts text[] := '{}';
	run_evs jsonb[] := '{}';
	trust_names text[] := '{}';
	trust_reasons text[] := '{}';
	trust_calls text[] := '{}';
	k text;
	i integer;
	t_reason text;
	t_call text;
BEGIN
	FOR gs IN SELECT ps.name, ps.reset_val FROM pg_settings ps
			   WHERE ps.name = ANY (judged) AND ps.source = 'session' AND ps.setting IS DISTINCT FROM ps.reset_val
	LOOP
		session_set := session_set || jsonb_build_object(gs.name, current_setting(gs.name));
		PERFORM set_config(gs.name, gs.reset_val, true);
	END LOOP;
	FOR c IN
		SELECT cl.clause_id AS id, cl.standard AS std, cl.clause AS num, cl.kind,
			   CASE WHEN l = 'en' THEN cl.requirement_en ELSE cl.requirement_zh END AS req,
			   CASE WHEN l = 'en' THEN cl.remediation_en ELSE cl.remediation_zh END AS rem,
			   cl.control
		  FROM finsec.clause cl
		 WHERE std IS NULL OR cl.standard = std
		 ORDER BY cl.standard COLLATE "C", finsec._clause_sort_key(cl.clause_id) COLLATE "C", cl.clause_id COLLATE "C"
	LOOP
		clause_id := c.id;
		standard := c.std;
		clause := c.num;
		requirement := c.req;
		remediation := c.rem;
		nmap := 0;
		FOR m IN
			SELECT cc.check_name AS name, cc.args, d.function AS fn, d.builtin AS def_builtin
			  FROM finsec.clause_check cc
			  LEFT JOIN finsec.compliance_check_def d ON d.check_name = cc.check_name
			 WHERE cc.clause_id = c.id
			 ORDER BY cc.check_name COLLATE "C"
		LOOP
			nmap := nmap + 1;
			check_name := m.name;
			st := NULL;
			ev := NULL;
			k := m.name || E'\n' || coalesce(m.args::text, 'null');
			i := array_position(run_keys, k);
			IF i IS NOT NULL THEN
				-- Already run in this run with these args: the same result.
				st := run_sts[i];
				ev := run_evs[i];
			ELSIF m.fn IS NULL THEN
				st := 'cannot_verify';
				ev := jsonb_build_object('reason', 'check is not defined', 'check', m.name);
			ELSE
				i := array_position(trust_names, m.name);
				IF i IS NOT NULL THEN
					t_reason := trust_reasons[i];
					t_call := trust_calls[i];
				ELSE
					t := finsec._compliance_check_trust(m.fn, m.def_builtin);
					t_reason := t.reason;
					t_call := t.call_sql;
					trust_names := trust_names || m.name;
					trust_reasons := trust_reasons || t_reason;
					trust_calls := trust_calls || t_call;
				END IF;
				IF t_reason IS NOT NULL THEN
					-- Never called: the function could be anyone's code.
					st := 'cannot_verify';
					ev := jsonb_build_object('reason', t_reason, 'function', m.fn::regprocedure::text,
											 'needs', CASE WHEN m.def_builtin
														   THEN 'reinstall the finsec extension'
														   ELSE 'a check function owned by a superuser, SECURITY INVOKER, of the calling convention' END);
				ELSE
					BEGIN
						EXECUTE t_call INTO st, ev USING m.args;
						-- A check may have changed the session's search_path
						-- (set_config(..., false) outlives it): pin it again
						-- before this function resolves another name.
						PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
						-- Nor may it leave another role (SET ROLE, SET SESSION
						-- AUTHORIZATION): the later checks would see what that
						-- role sees, and so would the caller's session.
						IF current_setting('session_authorization') IS DISTINCT FROM caller_auth
						   OR current_setting('role') IS DISTINCT FROM caller_role THEN
							IF current_setting('session_authorization') IS DISTINCT FROM caller_auth THEN
								PERFORM set_config('session_authorization', caller_auth, false);
							END IF;
							PERFORM set_config('role', caller_role, false);
							ev := jsonb_build_object('reason', 'check changed the role it runs as',
													 'returned_status', left(st, 100),
													 'needs', 'a check that runs as its caller throughout');
							st := 'cannot_verify';
						ELSIF st IS NULL OR NOT (st = ANY (allowed)) THEN
							ev := jsonb_build_object('reason', 'check returned a status outside pass, fail, warn, cannot_verify, out_of_scope',
													 'returned_status', left(st, 100), 'returned_evidence', ev);
							st := 'cannot_verify';
						ELSIF ev IS NULL OR jsonb_typeof(ev) <> 'object' THEN
							ev := jsonb_build_object('reason', 'check returned evidence that is not a JSON object',
													 'returned_status', st, 'returned_evidence', ev);
							st := 'cannot_verify';
						END IF;
					EXCEPTION WHEN OTHERS THEN
						DECLARE
							sqlst text;
							msg text;
						BEGIN
							GET STACKED DIAGNOSTICS sqlst = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
							st := 'cannot_verify';
							ev := jsonb_build_object('reason', 'check raised an error', 'sqlstate', sqlst,
													 'message', left(msg, 500));
						END;
					END;
				END IF;
				run_keys := run_keys || k;
				run_sts := run_sts || st;
				run_evs := run_evs || ev;
			END IF;
			SELECT e.* INTO ex FROM finsec.compliance_exclusion e
			 WHERE e.clause_id = c.id AND (e.check_name = m.name OR e.check_name IS NULL)
			   AND e.ended_at IS NULL AND e.valid_until > now()
			 ORDER BY e.check_name NULLS LAST LIMIT 1;
			IF FOUND THEN
				ev := jsonb_build_object('justification', ex.justification, 'requested_by', ex.requested_by,
										 'approved_by', ex.approved_by, 'request_id', ex.request_id,
										 'exclusion_id', ex.exclusion_id, 'valid_until', ex.valid_until,
										 'scope', CASE WHEN ex.check_name IS NULL THEN 'clause' ELSE 'check' END,
										 'actual', jsonb_build_object('status', st, 'evidence', ev));
				st := 'excluded';
			END IF;
			status := st;
			evidence := ev;
			counts := jsonb_set(counts, ARRAY[st], to_jsonb(coalesce((counts ->> st)::integer, 0) + 1));
			total := total + 1;
			RETURN NEXT;
		END LOOP;
		IF nmap = 0 THEN
			check_name := NULL;
			IF c.kind = 'manual' THEN
				st := 'manual';
				ev := jsonb_build_object('reason', 'organisational clause: an auditor collects the evidence the remediation names',
										 'control', c.control);
			ELSE
				st := 'cannot_verify';
				ev := jsonb_build_object('reason', 'no check maps this clause', 'control', c.control,
										 'needs', 'a check in finsec.clause_check for this clause');
			END IF;
			SELECT e.* INTO ex FROM finsec.compliance_exclusion e
			 WHERE e.clause_id = c.id AND e.check_name IS NULL
			   AND e.ended_at IS NULL AND e.valid_until > now()
			 LIMIT 1;
			IF FOUND THEN
				ev := jsonb_build_object('justification', ex.justification, 'requested_by', ex.requested_by,
										 'approved_by', ex.approved_by, 'request_id', ex.request_id,
										 'exclusion_id', ex.exclusion_id, 'valid_until', ex.valid_until,
										 'scope', 'clause',
										 'actual', jsonb_build_object('status', st, 'evidence', ev));
				st := 'excluded';
			END IF;
			status := st;
			evidence := ev;
			counts := jsonb_set(counts, ARRAY[st], to_jsonb(coalesce((counts ->> st)::integer, 0) + 1));
			total := total + 1;
			RETURN NEXT;
		END IF;
	END LOOP;
	-- The caller's own values again, for the rest of its transaction.
	FOR gs IN SELECT j.key, j.value FROM jsonb_each_text(session_set) j LOOP
		PERFORM set_config(gs.key, gs.value, true);
	END LOOP;
	-- One ledger row per run (a standby cannot write the ledger).  Failing
	-- to record does not hide the results: the caller is warned.
	IF NOT pg_is_in_recovery() THEN
		BEGIN
			PERFORM finsec._compliance_record(std, l, counts, total, started);
		EXCEPTION WHEN OTHERS THEN
			DECLARE
				msg text;
			BEGIN
				GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
				RAISE WARNING 'the compliance check run could not be recorded in the audit ledger'
					USING DETAIL = left(msg, 500),
						  HINT = 'Load finsec through shared_preload_libraries; finsec.status() shows the ledger.';
			END;
		END;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_run(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_run(text, text) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec.compliance_check(standard text DEFAULT NULL, lang text DEFAULT NULL)
RETURNS TABLE (clause_id text, standard text, clause text, check_name text, requirement text,
			   status text, evidence jsonb, remediation text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT * FROM finsec._compliance_run($1, $2)
$$;
COMMENT ON FUNCTION finsec.compliance_check(text, text) IS
	'inspect the live system clause by clause (standard: a code, a seed number 001-004, or NULL for all; lang zh_CN|en): one row per clause and check, status pass|fail|warn|manual|cannot_verify|out_of_scope|excluded';
REVOKE ALL ON FUNCTION finsec.compliance_check(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_check(text, text) TO finsec_admin, finsec_auditor;

/* The customer's controls and exclusions are changed by administrators, logged in as themselves. */
CREATE FUNCTION finsec._compliance_require_admin()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT pg_has_role(session_user, 'finsec_admin', 'MEMBER') THEN
		RAISE EXCEPTION 'permission denied to change the compliance catalog or its exclusions'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = format('Role %I is not a member of finsec_admin.', session_user),
				  HINT = 'An administrator (a member of finsec_admin) logged in as themselves makes these changes.';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_require_admin() FROM PUBLIC;

-- Exclusions by two people (change kind compliance.exclude):
-- target '<clause_id>/<check_name or *>', payload {clause_id, check_name,
-- justification, valid_until}.
CREATE FUNCTION finsec._compliance_exclude_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cid text := payload ->> 'clause_id';
	chk text := payload ->> 'check_name';
	j text := btrim(payload ->> 'justification');
	vu timestamptz;
BEGIN
	IF cid IS NULL OR target IS DISTINCT FROM cid || '/' || coalesce(chk, '*') THEN
		RAISE EXCEPTION 'a compliance.exclude request is filed by finsec.compliance_exclude'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use finsec.compliance_exclude.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM finsec.clause c WHERE c.clause_id = cid) THEN
		RAISE EXCEPTION 'clause "%" is not in the compliance catalog', left(cid, 100)
			USING ERRCODE = 'S9Q05', HINT = 'finsec.clause lists the clauses.';
	END IF;
	IF chk IS NOT NULL AND NOT EXISTS (SELECT 1 FROM finsec.clause_check cc
										WHERE cc.clause_id = cid AND cc.check_name = chk) THEN
		RAISE EXCEPTION 'check "%" does not verify clause "%"', left(chk, 100), cid
			USING ERRCODE = 'S9Q05', HINT = 'finsec.clause_check lists the checks of each clause; pass NULL to exclude the whole clause.';
	END IF;
	IF j IS NULL OR length(j) < 20 OR length(j) > 2000 THEN
		RAISE EXCEPTION 'an exclusion needs a justification of 20 to 2000 characters'
			USING ERRCODE = 'S9Q03',
				  DETAIL = 'Switching a compliance check off is recorded with the reason an auditor will read.',
				  HINT = 'Say why the clause or check does not apply, and what controls it instead.';
	END IF;
	BEGIN
		vu := coalesce((payload ->> 'valid_until')::timestamptz, now() + interval '1 year');
	EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
		RAISE EXCEPTION 'the end of an exclusion is not a timestamp'
			USING ERRCODE = 'S9Q04';
	END;
	IF vu <= now() OR vu > now() + interval '1 year' THEN
		RAISE EXCEPTION 'an exclusion ends in the future and at most one year from now'
			USING ERRCODE = 'S9Q04',
				  DETAIL = format('valid_until %s is outside (%s, %s].', vu, now(), now() + interval '1 year'),
				  HINT = 'Pass a valid_until within the next year, or NULL for one year; request it again when it ends.';
	END IF;
	RETURN jsonb_build_object('clause_id', cid, 'check_name', chk, 'justification', j, 'valid_until', vu);
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_exclude_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._compliance_exclude_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p jsonb;
	requester name;
	requested timestamptz;
	id bigint;
BEGIN
	SELECT cr.requested_by, cr.requested_at INTO requester, requested FROM finsec.change_request cr
	 WHERE cr.request_id = _compliance_exclude_apply.request_id;
	-- The catalog and the clock as they are now.
	p := finsec._compliance_exclude_prepare(kind, target, payload);
	IF (p ->> 'valid_until')::timestamptz > requested + interval '1 year' THEN
		RAISE EXCEPTION 'an exclusion ends at most one year after it was requested'
			USING ERRCODE = 'S9Q04';
	END IF;
	UPDATE finsec.compliance_exclusion e
	   SET ended_at = least(now(), e.valid_until), ended_by = session_user,
		   end_reason = CASE WHEN e.valid_until <= now() THEN 'expired'
							 ELSE format('replaced by change request %s', _compliance_exclude_apply.request_id) END
	 WHERE e.clause_id = p ->> 'clause_id' AND e.check_name IS NOT DISTINCT FROM p ->> 'check_name'
	   AND e.ended_at IS NULL;
	INSERT INTO finsec.compliance_exclusion (clause_id, check_name, justification, valid_until,
											 requested_by, approved_by, request_id)
	VALUES (p ->> 'clause_id', p ->> 'check_name', p ->> 'justification', (p ->> 'valid_until')::timestamptz,
			requester, session_user, _compliance_exclude_apply.request_id)
	RETURNING exclusion_id INTO id;
	PERFORM finsec.audit_event('compliance.exclude', 'clause:' || target, 'exclude', true, p ->> 'justification',
							   jsonb_build_object('request_id', _compliance_exclude_apply.request_id,
												  'exclusion_id', id, 'requested_by', requester,
												  'clause_id', p ->> 'clause_id', 'check_name', p ->> 'check_name',
												  'valid_until', p ->> 'valid_until'),
							   session_user);
	RETURN p || jsonb_build_object('exclusion_id', id);
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_exclude_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('compliance.exclude', 'finsec._compliance_exclude_prepare(text, text, jsonb)',
	 'finsec._compliance_exclude_apply(bigint, text, text, jsonb)', NULL,
	 'exclude a check of a clause (or the whole clause) from finsec.compliance_check(), with a justification, until a date within a year (target: clause_id/check_name or clause_id/*)');

CREATE FUNCTION finsec.compliance_exclude(clause_id text, justification text, check_name text DEFAULT NULL,
										  valid_until timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF clause_id IS NULL THEN
		RAISE EXCEPTION 'the clause of an exclusion must not be null'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'finsec.clause lists the clauses.';
	END IF;
	IF justification IS NULL OR length(btrim(justification)) < 20 OR length(justification) > 2000 THEN
		RAISE EXCEPTION 'an exclusion needs a justification of 20 to 2000 characters'
			USING ERRCODE = 'S9Q03',
				  DETAIL = 'Switching a compliance check off is recorded with the reason an auditor will read.',
				  HINT = 'Say why the clause or check does not apply, and what controls it instead.';
	END IF;
	RETURN finsec.request_change('compliance.exclude', clause_id || '/' || coalesce(check_name, '*'),
								 jsonb_build_object('clause_id', clause_id, 'check_name', check_name,
													'justification', btrim(justification),
													'valid_until', valid_until),
								 btrim(justification));
END
$$;
COMMENT ON FUNCTION finsec.compliance_exclude(text, text, text, timestamptz) IS
	'request that a check of a clause (NULL: the whole clause) be reported as excluded until valid_until (default and at most one year); another finsec_admin approves with finsec.approve; returns the request id';
REVOKE ALL ON FUNCTION finsec.compliance_exclude(text, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_exclude(text, text, text, timestamptz) TO finsec_admin;

/* Ending an exclusion tightens: one administrator, audited. */
CREATE FUNCTION finsec.compliance_unexclude(clause_id text, check_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e finsec.compliance_exclusion;
BEGIN
	PERFORM finsec._compliance_require_admin();
	IF clause_id IS NULL THEN
		RAISE EXCEPTION 'the clause of an exclusion must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	UPDATE finsec.compliance_exclusion x
	   SET ended_at = now(), ended_by = session_user, end_reason = 'ended by finsec.compliance_unexclude'
	 WHERE x.clause_id = compliance_unexclude.clause_id
	   AND x.check_name IS NOT DISTINCT FROM compliance_unexclude.check_name
	   AND x.ended_at IS NULL AND x.valid_until > now()
	RETURNING x.* INTO e;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'clause "%" has no active exclusion%', left(clause_id, 100),
			CASE WHEN check_name IS NULL THEN ' of the whole clause' ELSE format(' of check "%s"', left(check_name, 100)) END
			USING ERRCODE = 'S9Q06',
				  HINT = 'finsec.compliance_exclusion lists the exclusions (ended_at NULL and valid_until in the future are active).';
	END IF;
	PERFORM finsec.audit_event('compliance.unexclude', 'clause:' || e.clause_id || '/' || coalesce(e.check_name, '*'),
							   'unexclude', true, NULL,
							   jsonb_build_object('exclusion_id', e.exclusion_id, 'request_id', e.request_id,
												  'clause_id', e.clause_id, 'check_name', e.check_name),
							   session_user);
	RETURN e.exclusion_id;
END
$$;
COMMENT ON FUNCTION finsec.compliance_unexclude(text, text) IS
	'end an active exclusion at once (one finsec_admin; audited); returns the exclusion id';
REVOKE ALL ON FUNCTION finsec.compliance_unexclude(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_unexclude(text, text) TO finsec_admin;

/*
 * The customer's own controls: clauses, checks and mappings with builtin
 * false, through these functions (finsec_admin; validated; every change
 * in the ledger).  Functions rather than INSERT privileges: a grant of
 * INSERT could not validate a check function's owner and shape, nor write
 * the ledger row with the caller's identity.  Adding a control tightens
 * and needs one administrator; a customer's control is the customer's own
 * to remove (also one administrator, audited) - builtin rows cannot be
 * removed at all, only excluded by two people.
 */
CREATE FUNCTION finsec._compliance_text(what text, val text, maxlen integer)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF val IS NULL OR btrim(val) = '' THEN
		RAISE EXCEPTION 'the % of a compliance catalog entry must not be empty', what
			USING ERRCODE = 'S9Q08';
	END IF;
	IF length(val) > maxlen THEN
		RAISE EXCEPTION 'the % of a compliance catalog entry is at most % characters', what, maxlen
			USING ERRCODE = 'S9Q08';
	END IF;
	RETURN btrim(val);
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_text(text, text, integer) FROM PUBLIC;

CREATE FUNCTION finsec.clause_add(clause_id text, standard text, clause text,
								  title_zh text, title_en text, requirement_zh text, requirement_en text,
								  kind text, control text, remediation_zh text, remediation_en text,
								  level text DEFAULT NULL, refs text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id text := finsec._compliance_text('clause id', clause_id, 64);
BEGIN
	PERFORM finsec._compliance_require_admin();
	IF id !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' THEN
		RAISE EXCEPTION 'clause id "%" is not well formed', id
			USING ERRCODE = 'S9Q08', HINT = 'Letters, digits, and _ . : - after the first character, e.g. acme:IC-7.';
	END IF;
	IF id ~ '^00[0-9]:' THEN
		RAISE EXCEPTION 'clause ids "00N:..." are reserved for finsec''s own catalog'
			USING ERRCODE = 'S9Q08', HINT = 'Prefix the customer''s clauses with its own name, e.g. acme:IC-7.';
	END IF;
	IF kind IS NULL OR kind NOT IN ('automated', 'manual') THEN
		RAISE EXCEPTION 'the kind of a clause is automated or manual'
			USING ERRCODE = 'S9Q08';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.clause c WHERE c.clause_id = id) THEN
		RAISE EXCEPTION 'clause "%" is already in the compliance catalog', id
			USING ERRCODE = 'S9Q08', HINT = 'Remove it first with finsec.clause_remove (customer clauses only).';
	END IF;
	INSERT INTO finsec.clause (clause_id, standard, clause, title_zh, title_en, requirement_zh, requirement_en,
							   kind, level, control, remediation_zh, remediation_en, refs, builtin)
	VALUES (id, finsec._compliance_text('standard', standard, 100), finsec._compliance_text('clause number', clause, 100),
			finsec._compliance_text('Chinese title', title_zh, 200), finsec._compliance_text('English title', title_en, 200),
			finsec._compliance_text('Chinese requirement', requirement_zh, 4000),
			finsec._compliance_text('English requirement', requirement_en, 4000),
			kind, CASE WHEN level IS NOT NULL THEN finsec._compliance_text('level', level, 50) END,
			finsec._compliance_text('control', control, 1000),
			finsec._compliance_text('Chinese remediation', remediation_zh, 4000),
			finsec._compliance_text('English remediation', remediation_en, 4000),
			CASE WHEN refs IS NOT NULL THEN finsec._compliance_text('references', refs, 1000) END, false);
	PERFORM finsec.audit_event('compliance.clause_add', 'clause:' || id, 'add', true, NULL,
							   jsonb_build_object('clause_id', id, 'standard', btrim(standard), 'kind', kind),
							   session_user);
	RETURN id;
END
$$;
COMMENT ON FUNCTION finsec.clause_add(text, text, text, text, text, text, text, text, text, text, text, text, text) IS
	'add a clause of the customer''s own controls to the compliance catalog (builtin false; audited)';
REVOKE ALL ON FUNCTION finsec.clause_add(text, text, text, text, text, text, text, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.clause_add(text, text, text, text, text, text, text, text, text, text, text, text, text) TO finsec_admin;

CREATE FUNCTION finsec.clause_remove(clause_id text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c finsec.clause;
BEGIN
	PERFORM finsec._compliance_require_admin();
	SELECT * INTO c FROM finsec.clause x WHERE x.clause_id = clause_remove.clause_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'clause "%" is not in the compliance catalog', left(clause_id, 100)
			USING ERRCODE = 'S9Q05';
	END IF;
	IF c.builtin THEN
		RAISE EXCEPTION 'clause "%" is one of finsec''s own', c.clause_id
			USING ERRCODE = 'S9Q07',
				  HINT = 'A builtin clause cannot be removed; request finsec.compliance_exclude to report it as excluded.';
	END IF;
	DELETE FROM finsec.clause x WHERE x.clause_id = c.clause_id;
	PERFORM finsec.audit_event('compliance.clause_remove', 'clause:' || c.clause_id, 'remove', true, NULL,
							   jsonb_build_object('clause_id', c.clause_id, 'standard', c.standard), session_user);
	RETURN c.clause_id;
END
$$;
COMMENT ON FUNCTION finsec.clause_remove(text) IS
	'remove a customer clause (builtin false) and its mappings and exclusions from the compliance catalog (audited)';
REVOKE ALL ON FUNCTION finsec.clause_remove(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.clause_remove(text) TO finsec_admin;

CREATE FUNCTION finsec.compliance_check_add(check_name text, function regprocedure, title_zh text, title_en text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
BEGIN
	PERFORM finsec._compliance_require_admin();
	IF check_name IS NULL OR check_name !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$' OR length(check_name) > 63 THEN
		RAISE EXCEPTION 'check name "%" is not well formed', left(check_name, 100)
			USING ERRCODE = 'S9Q08', HINT = 'Lower-case letters, digits and _, optionally one dot: acme.vendor_access.';
	END IF;
	IF function IS NULL THEN
		RAISE EXCEPTION 'the function of a check must not be null'
			USING ERRCODE = 'S9Q08';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.compliance_check_def d WHERE d.check_name = compliance_check_add.check_name) THEN
		RAISE EXCEPTION 'check "%" is already defined', check_name
			USING ERRCODE = 'S9Q08';
	END IF;
	IF EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
				WHERE d.classid = 'pg_proc'::regclass AND d.objid = function
				  AND d.refclassid = 'pg_extension'::regclass AND e.extname = 'finsec' AND d.deptype = 'e') THEN
		RAISE EXCEPTION 'function % is finsec''s own', function
			USING ERRCODE = 'S9Q08',
				  DETAIL = 'A builtin check registered again under another name could be mapped onto finsec''s clauses with thresholds of one administrator''s choice.',
				  HINT = 'Map the builtin check by its own name onto a customer clause (finsec.clause_check_add).';
	END IF;
	t := finsec._compliance_check_trust(function, false);
	IF t.reason IS NOT NULL THEN
		RAISE EXCEPTION 'function % cannot be a compliance check: %', function, t.reason
			USING ERRCODE = 'S9Q08',
				  DETAIL = 'compliance_check() runs a check with the privileges of its caller (an auditor, a superuser), so only a superuser''s SECURITY INVOKER function (args jsonb, OUT status text, OUT evidence jsonb) may be one.',
				  HINT = 'Create the function as a superuser, SECURITY INVOKER, with that signature.';
	END IF;
	INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin)
	VALUES (check_name, function, finsec._compliance_text('Chinese title', title_zh, 200),
			finsec._compliance_text('English title', title_en, 200), false);
	PERFORM finsec.audit_event('compliance.check_add', 'check:' || check_name, 'add', true, NULL,
							   jsonb_build_object('check_name', check_name, 'function', function::text), session_user);
	RETURN check_name;
END
$$;
COMMENT ON FUNCTION finsec.compliance_check_add(text, regprocedure, text, text) IS
	'define a check of the customer''s own (builtin false): a superuser''s SECURITY INVOKER function (args jsonb, OUT status text, OUT evidence jsonb); audited';
REVOKE ALL ON FUNCTION finsec.compliance_check_add(text, regprocedure, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_check_add(text, regprocedure, text, text) TO finsec_admin;

CREATE FUNCTION finsec.compliance_check_remove(check_name text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d finsec.compliance_check_def;
	ended bigint;
BEGIN
	PERFORM finsec._compliance_require_admin();
	SELECT * INTO d FROM finsec.compliance_check_def x WHERE x.check_name = compliance_check_remove.check_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'check "%" is not defined', left(check_name, 100)
			USING ERRCODE = 'S9Q05';
	END IF;
	IF d.builtin THEN
		RAISE EXCEPTION 'check "%" is one of finsec''s own', d.check_name
			USING ERRCODE = 'S9Q07',
				  HINT = 'A builtin check cannot be removed; request finsec.compliance_exclude for the clauses it should not judge.';
	END IF;
	DELETE FROM finsec.clause_check cc WHERE cc.check_name = d.check_name;
	DELETE FROM finsec.compliance_check_def x WHERE x.check_name = d.check_name;
	-- Its exclusions end with it (a check defined again under this name is another check).
	UPDATE finsec.compliance_exclusion e
	   SET ended_at = least(now(), e.valid_until), ended_by = session_user,
		   end_reason = 'check removed by finsec.compliance_check_remove'
	 WHERE e.check_name = d.check_name AND e.ended_at IS NULL;
	GET DIAGNOSTICS ended = ROW_COUNT;
	PERFORM finsec.audit_event('compliance.check_remove', 'check:' || d.check_name, 'remove', true, NULL,
							   jsonb_build_object('check_name', d.check_name, 'function', d.function::text,
												  'exclusions_ended', ended),
							   session_user);
	RETURN d.check_name;
END
$$;
COMMENT ON FUNCTION finsec.compliance_check_remove(text) IS
	'remove a customer check (builtin false) and its mappings (audited)';
REVOKE ALL ON FUNCTION finsec.compliance_check_remove(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_check_remove(text) TO finsec_admin;

CREATE FUNCTION finsec.clause_check_add(clause_id text, check_name text, args jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM finsec._compliance_require_admin();
	IF NOT EXISTS (SELECT 1 FROM finsec.clause c WHERE c.clause_id = clause_check_add.clause_id) THEN
		RAISE EXCEPTION 'clause "%" is not in the compliance catalog', left(clause_id, 100)
			USING ERRCODE = 'S9Q05';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM finsec.compliance_check_def d WHERE d.check_name = clause_check_add.check_name) THEN
		RAISE EXCEPTION 'check "%" is not defined', left(check_name, 100)
			USING ERRCODE = 'S9Q05', HINT = 'finsec.compliance_check_def lists the checks.';
	END IF;
	-- A builtin check with thresholds of one administrator's choice
	-- ({"min_length": 0}) would make a clause of finsec's pass that finsec
	-- reports manual or unverified: finsec maps its own checks onto its own
	-- clauses, in its scripts.
	IF EXISTS (SELECT 1 FROM finsec.clause c WHERE c.clause_id = clause_check_add.clause_id AND c.builtin)
	   AND EXISTS (SELECT 1 FROM finsec.compliance_check_def d WHERE d.check_name = clause_check_add.check_name AND d.builtin) THEN
		RAISE EXCEPTION 'builtin check "%" cannot be mapped onto builtin clause "%"', check_name, clause_id
			USING ERRCODE = 'S9Q07',
				  DETAIL = 'finsec maps its own checks onto its own clauses, with the clauses'' thresholds.',
				  HINT = 'Map a check of the customer''s own (finsec.compliance_check_add) onto the clause, or the builtin check onto a customer clause.';
	END IF;
	IF args IS NULL OR jsonb_typeof(args) <> 'object' OR octet_length(args::text) > 8192 THEN
		RAISE EXCEPTION 'the arguments of a check are a JSON object of at most 8 kB'
			USING ERRCODE = 'S9Q08';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.clause_check cc
				WHERE cc.clause_id = clause_check_add.clause_id AND cc.check_name = clause_check_add.check_name) THEN
		RAISE EXCEPTION 'check "%" already verifies clause "%"', check_name, clause_id
			USING ERRCODE = 'S9Q08';
	END IF;
	INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin)
	VALUES (clause_id, check_name, args, false);
	PERFORM finsec.audit_event('compliance.map_add', 'clause:' || clause_id || '/' || check_name, 'add', true, NULL,
							   jsonb_build_object('clause_id', clause_id, 'check_name', check_name, 'args', args),
							   session_user);
END
$$;
COMMENT ON FUNCTION finsec.clause_check_add(text, text, jsonb) IS
	'let a check verify a clause, with the clause''s numbers as args (customer mapping, builtin false; audited)';
REVOKE ALL ON FUNCTION finsec.clause_check_add(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.clause_check_add(text, text, jsonb) TO finsec_admin;

CREATE FUNCTION finsec.clause_check_remove(clause_id text, check_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m finsec.clause_check;
	ended bigint;
BEGIN
	PERFORM finsec._compliance_require_admin();
	SELECT * INTO m FROM finsec.clause_check cc
	 WHERE cc.clause_id = clause_check_remove.clause_id AND cc.check_name = clause_check_remove.check_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'check "%" does not verify clause "%"', left(check_name, 100), left(clause_id, 100)
			USING ERRCODE = 'S9Q05';
	END IF;
	IF m.builtin THEN
		RAISE EXCEPTION 'the mapping of check "%" to clause "%" is one of finsec''s own', m.check_name, m.clause_id
			USING ERRCODE = 'S9Q07',
				  HINT = 'Request finsec.compliance_exclude to report it as excluded.';
	END IF;
	DELETE FROM finsec.clause_check cc WHERE cc.clause_id = m.clause_id AND cc.check_name = m.check_name;
	-- An exclusion two people agreed for this mapping ends with it: it
	-- must not cover a mapping of the same name one administrator adds later.
	UPDATE finsec.compliance_exclusion e
	   SET ended_at = least(now(), e.valid_until), ended_by = session_user,
		   end_reason = 'mapping removed by finsec.clause_check_remove'
	 WHERE e.clause_id = m.clause_id AND e.check_name = m.check_name AND e.ended_at IS NULL;
	GET DIAGNOSTICS ended = ROW_COUNT;
	PERFORM finsec.audit_event('compliance.map_remove', 'clause:' || m.clause_id || '/' || m.check_name, 'remove', true,
							   NULL, jsonb_build_object('clause_id', m.clause_id, 'check_name', m.check_name,
														'exclusions_ended', ended),
							   session_user);
END
$$;
COMMENT ON FUNCTION finsec.clause_check_remove(text, text) IS
	'remove a customer mapping of a check to a clause (audited)';
REVOKE ALL ON FUNCTION finsec.clause_check_remove(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.clause_check_remove(text, text) TO finsec_admin;

/*
 * Two checks no other part makes (catalog part): login-failure handling
 * (A3) and the refusal of weak passwords (A1, A1b).  The seeds give no
 * numbers for A3; the defaults are finsec's (docs/auth.md "Policy per
 * standard"): at most 5 failures, at least 30 minutes of lockout.
 */
CREATE FUNCTION finsec._check_login_lockout(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_failures integer := coalesce((args ->> 'max_failures')::integer, 5);
	min_lockout integer := coalesce((args ->> 'min_lockout_seconds')::integer, 1800);
	failures integer;
	lockout integer;
	win integer;
	exempt text;
	loaded boolean;
	problems text[] := '{}';
BEGIN
	IF NOT has_function_privilege('finsec.preloaded()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot call finsec.preloaded()',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	loaded := finsec.preloaded();
	SELECT max(s.setting) FILTER (WHERE s.name = 'finsec.max_auth_failures')::integer,
		   max(s.setting) FILTER (WHERE s.name = 'finsec.lockout_duration')::integer,
		   max(s.setting) FILTER (WHERE s.name = 'finsec.auth_failure_window')::integer,
		   max(s.setting) FILTER (WHERE s.name = 'finsec.lockout_exempt_roles')
	  INTO failures, lockout, win, exempt
	  FROM pg_settings s
	 WHERE s.name IN ('finsec.max_auth_failures', 'finsec.lockout_duration', 'finsec.auth_failure_window',
					  'finsec.lockout_exempt_roles');
	IF NOT loaded THEN
		problems := problems || 'finsec is not in shared_preload_libraries: no authentication hook counts failures'::text;
	END IF;
	IF failures IS NULL OR failures = 0 THEN
		problems := problems || 'finsec.max_auth_failures is 0: failed logins are never locked out'::text;
	ELSIF failures > max_failures THEN
		problems := problems || format('finsec.max_auth_failures %s is above %s', failures, max_failures);
	END IF;
	IF lockout IS NULL OR lockout < min_lockout THEN
		problems := problems || format('finsec.lockout_duration %s s is below %s s', lockout, min_lockout);
	END IF;
	evidence := jsonb_build_object('preloaded', loaded, 'max_auth_failures', failures,
								   'lockout_duration_seconds', lockout, 'auth_failure_window_seconds', win,
								   'lockout_exempt_roles', nullif(exempt, ''),
								   'thresholds', jsonb_build_object('max_failures', max_failures,
																	'min_lockout_seconds', min_lockout));
	IF cardinality(problems) > 0 THEN
		status := 'fail';
		evidence := evidence || jsonb_build_object('problems', to_jsonb(problems));
	ELSIF nullif(exempt, '') IS NOT NULL THEN
		status := 'warn';
		evidence := evidence || jsonb_build_object('problems', jsonb_build_array('some roles are exempt from lockout (finsec.lockout_exempt_roles)'));
	ELSE
		status := 'pass';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._check_login_lockout(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_login_lockout(jsonb) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_password_weak_rejected(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	need_username boolean := coalesce((args ->> 'username')::boolean, true);
	need_common boolean := coalesce((args ->> 'common')::boolean, true);
	common text := current_setting('finsec.password_reject_common');
	username text := current_setting('finsec.password_check_username');
	prehashed text := current_setting('finsec.password_allow_prehashed');
	loaded boolean;
	problems text[] := '{}';
BEGIN
	IF NOT has_function_privilege('finsec.preloaded()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot call finsec.preloaded()',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	loaded := finsec.preloaded();
	IF NOT loaded THEN
		problems := problems || 'finsec is not in shared_preload_libraries: passwords are not checked'::text;
	END IF;
	IF need_common AND common <> 'on' THEN
		problems := problems || 'finsec.password_reject_common is off: 111111, 123456, repeats and sequences are accepted'::text;
	END IF;
	IF need_username AND username <> 'on' THEN
		problems := problems || 'finsec.password_check_username is off: passwords may contain 3 consecutive characters of the user name'::text;
	END IF;
	IF prehashed <> 'off' THEN
		problems := problems || 'finsec.password_allow_prehashed is on: a client-hashed password escapes every rule'::text;
	END IF;
	evidence := jsonb_build_object('preloaded', loaded, 'password_reject_common', common,
								   'password_check_username', username, 'password_allow_prehashed', prehashed,
								   'required', jsonb_build_object('common', need_common, 'username', need_username));
	IF cardinality(problems) > 0 THEN
		status := 'fail';
		evidence := evidence || jsonb_build_object('problems', to_jsonb(problems));
	ELSE
		status := 'pass';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._check_password_weak_rejected(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_password_weak_rejected(jsonb) TO finsec_admin, finsec_auditor;

INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin) VALUES
	('login_lockout', 'finsec._check_login_lockout(jsonb)', '登录失败处理', 'Login failure handling', true),
	('password_weak_rejected', 'finsec._check_password_weak_rejected(jsonb)', '拒绝弱口令', 'Weak passwords refused', true);
INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin) VALUES
	('003:6.4.1.7.5', 'login_lockout', '{}', true),
	('003:6.4.2.1.3', 'login_lockout', '{}', true),
	('003:6.4.3.1.4', 'login_lockout', '{}', true),
	('003:6.4.3.1.8', 'login_lockout', '{}', true),
	('004:8.3.3a', 'login_lockout', '{}', true),
	('004:8.3.4a', 'login_lockout', '{}', true),
	('001:11.3.2d', 'login_lockout', '{}', true),
	('001:5.1b', 'password_weak_rejected', '{"common": true, "username": false}', true),
	('004:7.5.9a', 'password_weak_rejected', '{"common": false, "username": true}', true),
	('003:6.4.3.1.8', 'password_weak_rejected', '{}', true);

/*
 * finsec.status() (check finsec_components) took 0.5-1.5 s, nearly all of
 * it in finsec.status_limits(): on tables never analysed (limit_table,
 * limit_usage empty or small) and pg_partition_tree()'s 1000 estimated
 * rows, its plan costs about 1,000,000 and PostgreSQL compiled it with
 * JIT (inlining and optimisation) on every call - 0.6 s of compiling
 * for 1 ms of execution.  JIT never changes a result.
 */
ALTER FUNCTION finsec.status_limits() SET jit = off;

-- (end of section 2)



-- ---------------------------------------------------------------------
-- 3. Checks of identity, credentials, roles, connections, logging,
--    keys and the ledger.
-- ---------------------------------------------------------------------

/*
 * Facts the self-check needs that PostgreSQL 15 shows to superusers only.
 * Each is a narrow SECURITY DEFINER function: it reads system catalogs and
 * settings only, runs no code a non-superuser can define, and returns no
 * secret (never a password hash, never an LDAP bind password or RADIUS
 * secret).  Granted to finsec_admin and finsec_auditor.
 */

-- Settings readable only with pg_read_all_settings, none of them secret.
CREATE FUNCTION finsec.compliance_settings(
	OUT name text,
	OUT setting text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.name, s.setting FROM pg_settings s
	 WHERE s.name IN ('ssl', 'ssl_ciphers', 'ssl_min_protocol_version', 'ssl_max_protocol_version',
					  'ssl_prefer_server_ciphers', 'shared_preload_libraries')
	 ORDER BY s.name
$$;
COMMENT ON FUNCTION finsec.compliance_settings() IS
	'the ssl and preload settings the compliance self-check judges (readable otherwise only with pg_read_all_settings); no secret';
REVOKE ALL ON FUNCTION finsec.compliance_settings() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_settings() TO finsec_admin, finsec_auditor;

-- pg_hba_file_rules, with the values of secret options replaced.
CREATE FUNCTION finsec.compliance_hba_rules(
	OUT line_number integer,
	OUT type text,
	OUT database text[],
	OUT user_name text[],
	OUT address text,
	OUT netmask text,
	OUT auth_method text,
	OUT options text[],
	OUT error text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT h.line_number, h.type, h.database, h.user_name, h.address, h.netmask, h.auth_method,
		   ARRAY(SELECT CASE WHEN split_part(o, '=', 1) ~* '(passw|secret|key)'
							 THEN split_part(o, '=', 1) || '=<redacted>' ELSE o END
				   FROM unnest(h.options) WITH ORDINALITY AS u(o, n) ORDER BY n),
		   h.error
	  FROM pg_hba_file_rules h
	 ORDER BY h.line_number
$$;
COMMENT ON FUNCTION finsec.compliance_hba_rules() IS
	'pg_hba_file_rules for the compliance self-check, values of secret options (ldapbindpasswd, radiussecrets, ...) redacted';
REVOKE ALL ON FUNCTION finsec.compliance_hba_rules() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_hba_rules() TO finsec_admin, finsec_auditor;

-- The kind of each role's password verifier; never the verifier itself.
CREATE FUNCTION finsec.compliance_role_verifiers(
	OUT role name,
	OUT can_login boolean,
	OUT verifier text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT a.rolname, a.rolcanlogin,
		   CASE WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256'
				WHEN a.rolpassword ~ '^md5[0-9a-f]{32}$' THEN 'md5'
				ELSE 'plaintext' END
	  FROM pg_authid a
	 WHERE a.rolpassword IS NOT NULL
	 ORDER BY a.rolname
$$;
COMMENT ON FUNCTION finsec.compliance_role_verifiers() IS
	'the kind of password verifier (scram-sha-256, md5, plaintext) of each role that has a password; never the verifier';
REVOKE ALL ON FUNCTION finsec.compliance_role_verifiers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_role_verifiers() TO finsec_admin, finsec_auditor;

/*
 * Helpers of the hba checks (no privilege of their own: plain SQL over
 * their arguments and pg_has_role).
 */
-- Does a pg_hba line's user list reach role r ('all', its name, or +group)?
CREATE FUNCTION finsec._compliance_hba_reaches(users text[], r oid)
RETURNS boolean
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (
		SELECT 1 FROM unnest(users) u
		 WHERE u = 'all'
			OR u = (SELECT rolname::text FROM pg_roles WHERE oid = r)
			OR (left(u, 1) = '+'
				AND EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = substr(u, 2)
							   AND pg_has_role(r, g.oid, 'MEMBER'))))
$$;
REVOKE ALL ON FUNCTION finsec._compliance_hba_reaches(text[], oid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_hba_reaches(text[], oid) TO finsec_admin, finsec_auditor;

-- Is a pg_hba line's address every address ('all', 0.0.0.0/0, ::/0)?
CREATE FUNCTION finsec._compliance_hba_wide(address text, netmask text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(address = 'all'
					OR (netmask ~ '^[0-9a-fA-F:.]+$' AND netmask::inet IN ('0.0.0.0'::inet, '::'::inet)),
					false)
$$;
REVOKE ALL ON FUNCTION finsec._compliance_hba_wide(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_hba_wide(text, text) TO finsec_admin, finsec_auditor;

-- One line of pg_hba.conf as evidence.
CREATE FUNCTION finsec._compliance_hba_line(h record)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN jsonb_build_object('line', h.line_number, 'type', h.type, 'database', to_jsonb(h.database),
							  'user', to_jsonb(h.user_name),
							  'address', CASE WHEN h.netmask IS NULL THEN h.address
											  ELSE h.address || '/' || h.netmask END,
							  'method', h.auth_method, 'options', to_jsonb(h.options));
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_hba_line(record) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_hba_line(record) TO finsec_admin, finsec_auditor;

-- A threshold of a check's args: an integer (default dflt when absent or
-- null); anything else is refused, naming the argument (S9Q10).
CREATE FUNCTION finsec._compliance_arg_int(args jsonb, key text, dflt integer)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := args -> key;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN dflt;
	END IF;
	IF jsonb_typeof(v) <> 'number' OR v::text !~ '^-?[0-9]{1,9}$' THEN
		RAISE EXCEPTION 'The compliance check argument "%" is not an integer of at most nine digits.', key
			USING ERRCODE = 'S9Q10', DETAIL = format('It is %s.', left(v::text, 40)),
				  HINT = 'Correct the args of the clause''s row in finsec.clause_check.';
	END IF;
	RETURN v::text::integer;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_arg_int(jsonb, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_arg_int(jsonb, text, integer) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._compliance_arg_bool(args jsonb, key text, dflt boolean)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := args -> key;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN dflt;
	END IF;
	IF jsonb_typeof(v) <> 'boolean' THEN
		RAISE EXCEPTION 'The compliance check argument "%" is not true or false.', key
			USING ERRCODE = 'S9Q10', DETAIL = format('It is %s.', left(v::text, 40)),
				  HINT = 'Correct the args of the clause''s row in finsec.clause_check.';
	END IF;
	RETURN v::text::boolean;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_arg_bool(jsonb, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_arg_bool(jsonb, text, boolean) TO finsec_admin, finsec_auditor;

-- The evidence of a caller that may not call a function it needs.
CREATE FUNCTION finsec._compliance_cannot(fn text)
RETURNS jsonb
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object('reason', format('%s may not execute %s', quote_ident(current_user::text), fn),
							  'needs', format('EXECUTE on %s (a member of finsec_admin or finsec_auditor)', fn))
$$;
REVOKE ALL ON FUNCTION finsec._compliance_cannot(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_cannot(text) TO finsec_admin, finsec_auditor;

-- ------------------------------ finsec itself, keys -------------------

CREATE FUNCTION finsec._check_finsec_preloaded(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT has_function_privilege('finsec.preloaded()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.preloaded()'); RETURN;
	END IF;
	status := CASE WHEN finsec.preloaded() THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('preloaded', finsec.preloaded());
END
$$;

CREATE FUNCTION finsec._check_finsec_components(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	missing text[];
	bad jsonb;
	n integer;
BEGIN
	-- finsec.status() calls every finsec.status_*(): the caller needs them all.
	SELECT array_agg(p.oid::regprocedure::text ORDER BY p.proname) INTO missing
	  FROM pg_proc p
	 WHERE p.pronamespace = 'finsec'::regnamespace AND p.proname LIKE 'status\_%' AND p.pronargs = 0
	   AND NOT has_function_privilege(p.oid, 'EXECUTE');
	IF missing IS NOT NULL OR NOT has_function_privilege('finsec.status()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec.status() or a component function it calls',
									   'needs', 'EXECUTE on finsec.status() and every finsec.status_*() (finsec_admin, finsec_auditor, finsec_operator)',
									   'functions', to_jsonb(coalesce(missing, ARRAY['finsec.status()'])));
		RETURN;
	END IF;
	SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('component', s.component, 'detail', s.detail)
										ORDER BY s.component) FILTER (WHERE NOT s.ok), '[]')
	  INTO n, bad
	  FROM finsec.status() s;
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('components', n, 'not_ok', bad,
								   'program_integrity', 'finsec.status() has no program-integrity component in this version');
END
$$;

CREATE FUNCTION finsec._check_master_key(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	IF NOT has_function_privilege('finsec.keyring_master()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.keyring_master()'); RETURN;
	END IF;
	SELECT * INTO m FROM finsec.keyring_master();
	status := CASE WHEN m.loaded AND m.problem IS NULL THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('loaded', coalesce(m.loaded, false), 'check_value', m.check_value,
								   'problem', m.problem);
END
$$;

-- The last recorded verification within the interval: the ledger event
-- key.verify on object keyring written by finsec.key_verify(), or
-- audit.verify on object ledger by finsec.audit_verify() of every chain
-- (detail.relation null; one table's verification does not count).
CREATE FUNCTION finsec._compliance_last_verify(kind text, object text, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	secs bigint := (SELECT s.setting::bigint FROM pg_settings s WHERE s.name = 'finsec.compliance_verify_interval');
	e record;
BEGIN
	IF NOT has_table_privilege('finsec.audit', 'SELECT') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', format('%s may not read the audit ledger, where %s results are recorded',
														 quote_ident(current_user::text), kind),
									   'needs', 'SELECT on finsec.audit (finsec_auditor)');
		RETURN;
	END IF;
	SELECT a.event_time, a.success, a.db_user, a.detail INTO e
	  FROM finsec.audit a
	 WHERE a.event_type = kind AND a.object = _compliance_last_verify.object
	   -- audit_verify(rel) of one table is not a verification of the ledger
	   AND (kind <> 'audit.verify' OR coalesce(jsonb_typeof(a.detail -> 'relation'), 'null') = 'null')
	   AND a.event_time >= now() - make_interval(secs => secs)
	 ORDER BY a.event_time DESC, a.finsec_seq DESC LIMIT 1;
	IF NOT FOUND THEN
		status := 'fail';
		evidence := jsonb_build_object('event_type', kind, 'interval_seconds', secs,
									   'last', NULL, 'problem', format('no %s recorded within the last %s seconds', kind, secs));
		RETURN;
	END IF;
	status := CASE WHEN e.success THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('event_type', kind, 'interval_seconds', secs,
								   'last', e.event_time, 'success', e.success,
								   'by', quote_ident(e.db_user::text), 'detail', e.detail);
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_last_verify(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_last_verify(text, text) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_keys_verified(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_last_verify('key.verify', 'keyring') $$;

CREATE FUNCTION finsec._check_ledger_verified(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_last_verify('audit.verify', 'ledger') $$;

CREATE FUNCTION finsec._check_key_rotation(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_days integer := finsec._compliance_arg_int(args, 'max_age_days', 365);
	old jsonb;
	n integer;
BEGIN
	IF NOT has_table_privilege('finsec.key_inventory', 'SELECT') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', format('%s may not read finsec.key_inventory', quote_ident(current_user::text)),
									   'needs', 'SELECT on finsec.key_inventory (finsec_admin, finsec_auditor)');
		RETURN;
	END IF;
	SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('label', k.label, 'version', k.version,
														   'active_since', coalesce(k.activated_at, k.created_at))
										ORDER BY k.label, k.version)
								 FILTER (WHERE coalesce(k.activated_at, k.created_at) < now() - make_interval(days => max_days)), '[]')
	  INTO n, old
	  FROM finsec.key_inventory k WHERE k.state = 'active';
	status := CASE WHEN jsonb_array_length(old) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('max_age_days', max_days, 'active_versions', n, 'overdue', old);
END
$$;

-- ------------------------------ passwords ----------------------------

-- finsec's password rules are enforced only when finsec is preloaded: a
-- setting that would pass fails when it is not (enforced false).
CREATE FUNCTION finsec._check_password_min_length(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want integer := finsec._compliance_arg_int(args, 'min_length', 8);
	have integer := current_setting('finsec.password_min_length', true)::integer;
	pre boolean := finsec.preloaded();
BEGIN
	status := CASE WHEN pre AND have >= want THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'finsec.password_min_length', 'value', have, 'min_length', want,
								   'enforced', pre);
END
$$;

CREATE FUNCTION finsec._check_password_classes(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want integer := finsec._compliance_arg_int(args, 'min_classes', 3);
	have integer := current_setting('finsec.password_min_classes', true)::integer;
	pre boolean := finsec.preloaded();
BEGIN
	status := CASE WHEN pre AND have >= want THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'finsec.password_min_classes', 'value', have, 'min_classes', want,
								   'enforced', pre);
END
$$;

CREATE FUNCTION finsec._check_password_max_age(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_days integer := finsec._compliance_arg_int(args, 'max_days', 180);
	app_days integer := finsec._compliance_arg_int(args, 'app_max_days', 90);
	setting interval := nullif(current_setting('finsec.password_max_age', true), '0')::interval;
	pre boolean := finsec.preloaded();
	app oid := to_regrole('finsec_app');
	late jsonb;
	probs text[] := '{}';
BEGIN
	IF NOT has_function_privilege('finsec.role_inventory()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.role_inventory()'); RETURN;
	END IF;
	IF NOT pre THEN
		probs := probs || 'finsec is not preloaded: password expiry is not enforced'::text;
	END IF;
	IF setting IS NULL THEN
		probs := probs || 'finsec.password_max_age is 0 (off)'::text;
	ELSIF setting > make_interval(days => max_days) THEN
		probs := probs || format('finsec.password_max_age %s exceeds %s days', setting, max_days);
	END IF;
	-- each login role with a password: VALID UNTIL within its maximum
	SELECT coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(i.role::text), 'valid_until', i.valid_until,
												 'max_days', d.lim) ORDER BY i.role), '[]')
	  INTO late
	  FROM finsec.role_inventory() i
	  JOIN pg_roles r ON r.rolname = i.role
	 CROSS JOIN LATERAL (SELECT CASE WHEN app IS NOT NULL AND pg_has_role(r.oid, app, 'MEMBER') AND NOT r.rolsuper
									 THEN app_days ELSE max_days END AS lim) d
	 WHERE i.has_password
	   AND (i.valid_until IS NULL OR i.valid_until > now() + make_interval(days => d.lim));
	status := CASE WHEN cardinality(probs) = 0 AND jsonb_array_length(late) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'finsec.password_max_age', 'value', current_setting('finsec.password_max_age', true),
								   'max_days', max_days, 'app_max_days', app_days,
								   'problems', to_jsonb(probs), 'roles_beyond_max_age', late);
END
$$;

CREATE FUNCTION finsec._check_password_encryption(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want text := coalesce(args ->> 'value', 'scram-sha-256');
	have text := current_setting('password_encryption');
	bad jsonb;
BEGIN
	-- a role or database whose sessions store other verifiers
	SELECT jsonb_agg(jsonb_build_object('database', o.database, 'role', o.role, 'value', o.value))
	  INTO bad
	  FROM finsec._compliance_setting_overrides('password_encryption') o
	 WHERE lower(btrim(o.value, ' ''')) <> lower(want);
	status := CASE WHEN have = want AND bad IS NULL THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'password_encryption', 'value', have, 'required', want);
	IF bad IS NOT NULL THEN
		evidence := evidence || jsonb_build_object('offending_overrides', bad);
	ELSIF status = 'pass' AND EXISTS (SELECT 1 FROM finsec._compliance_setting_overrides('password_encryption') o
									   WHERE o.callers) THEN
		status := 'cannot_verify';
		evidence := evidence || jsonb_build_object(
			'reason', 'the caller has a role setting of password_encryption: its session does not show the value other roles get',
			'needs', 'a caller without ALTER ROLE ... SET of this setting');
	END IF;
END
$$;

CREATE FUNCTION finsec._check_password_verifiers(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	weak jsonb;
	n integer;
BEGIN
	IF NOT has_function_privilege('finsec.compliance_role_verifiers()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_role_verifiers()'); RETURN;
	END IF;
	SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(v.role::text), 'verifier', v.verifier,
														   'can_login', v.can_login) ORDER BY v.role)
								 FILTER (WHERE v.verifier <> 'scram-sha-256'), '[]')
	  INTO n, weak
	  FROM finsec.compliance_role_verifiers() v;
	status := CASE WHEN jsonb_array_length(weak) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('roles_with_password', n, 'weak_verifiers', weak);
END
$$;

CREATE FUNCTION finsec._check_login_valid_until(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bad jsonb;
	n integer;
BEGIN
	IF NOT has_function_privilege('finsec.role_inventory()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.role_inventory()'); RETURN;
	END IF;
	SELECT count(*) FILTER (WHERE i.has_password),
		   coalesce(jsonb_agg(quote_ident(i.role::text) ORDER BY i.role)
					FILTER (WHERE i.has_password AND (i.valid_until IS NULL OR i.valid_until = 'infinity')), '[]')
	  INTO n, bad
	  FROM finsec.role_inventory() i;
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('login_roles_with_password', n, 'without_valid_until', bad);
END
$$;

-- ------------------------------ roles --------------------------------

CREATE FUNCTION finsec._check_superusers(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_extra integer := finsec._compliance_arg_int(args, 'max_extra', 0);
	extra jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(r.rolname::text), 'can_login', r.rolcanlogin)
							  ORDER BY r.rolname), '[]')
	  INTO extra
	  FROM pg_roles r WHERE r.rolsuper AND r.oid <> 10;
	status := CASE WHEN jsonb_array_length(extra) <= max_extra THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('bootstrap_superuser', (SELECT quote_ident(rolname::text) FROM pg_roles WHERE oid = 10),
								   'max_extra', max_extra, 'extra_superusers', extra);
END
$$;

-- Business schemas: every schema but the system's and finsec's.
CREATE FUNCTION finsec._compliance_business_schemas()
RETURNS SETOF oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT n.oid FROM pg_namespace n
	 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'finsec', 'pg_toast')
	   AND n.nspname !~ '^pg_(toast_)?temp_'
$$;
REVOKE ALL ON FUNCTION finsec._compliance_business_schemas() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_business_schemas() TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_duty_conflicts(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- perf part: with 1,000 roles the plan costs above jit_above_cost and JIT
-- compiling took 0.4-0.5 s of a 8 ms query; JIT never changes a result.
SET jit = off
AS $$
DECLARE
	bad jsonb;
BEGIN
	-- duties each non-superuser login role holds (membership, direct or not)
	WITH duty AS (
		SELECT r.oid, r.rolname, d.duty
		  FROM pg_roles r
		  JOIN (VALUES ('finsec_admin'), ('finsec_auditor'), ('finsec_operator'), ('finsec_app'), ('finsec_unmask')) d(duty)
			ON to_regrole(d.duty) IS NOT NULL AND pg_has_role(r.oid, to_regrole(d.duty), 'MEMBER')
		 WHERE r.rolcanlogin AND NOT r.rolsuper
		UNION ALL
		-- developer (judged for operators only, the one pair it is in): CREATE
		-- on a business schema, or owner (or member of the owner) of a table of one
		SELECT r.oid, r.rolname, 'developer'
		  FROM pg_roles r
		 WHERE r.rolcanlogin AND NOT r.rolsuper
		   AND to_regrole('finsec_operator') IS NOT NULL AND pg_has_role(r.oid, to_regrole('finsec_operator'), 'MEMBER')
		   AND (EXISTS (SELECT 1 FROM finsec._compliance_business_schemas() s
						 WHERE has_schema_privilege(r.oid, s, 'CREATE'))
				OR EXISTS (SELECT 1 FROM (SELECT DISTINCT c.relowner FROM pg_class c
										   WHERE c.relnamespace IN (SELECT finsec._compliance_business_schemas())
											 AND c.relkind IN ('r', 'p')) o
							WHERE pg_has_role(r.oid, o.relowner, 'USAGE')))
	), pairs(a, b) AS (VALUES
		('finsec_admin', 'finsec_auditor'), ('finsec_admin', 'finsec_operator'),
		('finsec_auditor', 'finsec_operator'), ('finsec_admin', 'finsec_unmask'),
		('finsec_auditor', 'finsec_app'), ('finsec_operator', 'developer'))
	SELECT coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(x.rolname::text), 'duties', jsonb_build_array(p.a, p.b))
							  ORDER BY x.rolname, p.a, p.b), '[]')
	  INTO bad
	  FROM pairs p
	  JOIN duty x ON x.duty = p.a
	  JOIN duty y ON y.oid = x.oid AND y.duty = p.b;
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('conflicting_pairs', '[["finsec_admin","finsec_auditor"],["finsec_admin","finsec_operator"],["finsec_auditor","finsec_operator"],["finsec_admin","finsec_unmask"],["finsec_auditor","finsec_app"],["finsec_operator","developer"]]'::jsonb,
								   'developer', 'CREATE on a business schema or owner of a business table',
								   'superusers', 'not judged here (see the superusers check)',
								   'conflicts', bad);
END
$$;

CREATE FUNCTION finsec._check_duty_two_people(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want integer := finsec._compliance_arg_int(args, 'min_people', 2);
	duties text[];
	counts jsonb;
	short jsonb;
BEGIN
	IF args ? 'duties' AND jsonb_typeof(args -> 'duties') = 'array' THEN
		duties := ARRAY(SELECT jsonb_array_elements_text(args -> 'duties'));
	ELSE
		duties := ARRAY['finsec_admin', 'finsec_auditor', 'finsec_operator'];
	END IF;
	SELECT jsonb_object_agg(d, jsonb_build_object('holders', h.names)),
		   coalesce(jsonb_agg(d ORDER BY d) FILTER (WHERE cardinality(h.names) < want), '[]')
	  INTO counts, short
	  FROM unnest(duties) d
	 CROSS JOIN LATERAL (
		SELECT ARRAY(SELECT quote_ident(r.rolname::text) FROM pg_roles r
					  WHERE r.rolcanlogin AND NOT r.rolsuper
						AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now())
						AND to_regrole(d) IS NOT NULL AND pg_has_role(r.oid, to_regrole(d), 'MEMBER')
					  ORDER BY r.rolname) AS names) h;
	status := CASE WHEN jsonb_array_length(short) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('min_people', want, 'duties', coalesce(counts, '{}'), 'understaffed', short);
END
$$;

CREATE FUNCTION finsec._check_default_accounts(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	names text[];
	bad jsonb;
BEGIN
	IF jsonb_typeof(args -> 'names') = 'array' THEN
		names := ARRAY(SELECT lower(jsonb_array_elements_text(args -> 'names')));
	ELSE
		names := ARRAY['postgres', 'admin', 'administrator', 'test', 'demo', 'guest', 'user', 'root', 'sa', 'dba'];
	END IF;
	IF NOT has_function_privilege('finsec.role_inventory()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.role_inventory()'); RETURN;
	END IF;
	SELECT coalesce(jsonb_agg(quote_ident(i.role::text) ORDER BY i.role), '[]') INTO bad
	  FROM finsec.role_inventory() i
	 WHERE i.has_password AND lower(i.role::text) = ANY (names);
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('names', to_jsonb(names), 'default_accounts_with_password', bad);
END
$$;

CREATE FUNCTION finsec._check_inactive_roles(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	secs bigint := (SELECT s.setting::bigint FROM pg_settings s WHERE s.name = 'finsec.compliance_inactive_after');
	f regprocedure := to_regprocedure('finsec.role_last_login()');
	bad jsonb;
	unknown jsonb;
	since timestamptz;
BEGIN
	IF f IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'this finsec has no finsec.role_last_login()', 'needs', 'finsec.role_last_login()');
		RETURN;
	END IF;
	-- role_last_login() runs as its caller: it reads finsec.role_login,
	-- finsec.role_login_since and finsec._role_login_pending()
	IF NOT has_function_privilege(f, 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.role_last_login()'); RETURN;
	END IF;
	IF to_regclass('finsec.role_login') IS NULL OR NOT has_table_privilege('finsec.role_login', 'SELECT')
	   OR to_regclass('finsec.role_login_since') IS NULL OR NOT has_table_privilege('finsec.role_login_since', 'SELECT')
	   OR to_regprocedure('finsec._role_login_pending()') IS NULL
	   OR NOT has_function_privilege('finsec._role_login_pending()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', format('%s may not read the recorded logins', quote_ident(current_user::text)),
									   'needs', 'SELECT on finsec.role_login and finsec.role_login_since, EXECUTE on finsec._role_login_pending() (finsec_admin, finsec_auditor)');
		RETURN;
	END IF;
	EXECUTE $q$
		SELECT min(l.recording_since),
			   coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(r.rolname::text), 'last_login_at', l.last_login_at)
								  ORDER BY r.rolname)
						FILTER (WHERE coalesce(l.last_login_at, l.recording_since) < now() - make_interval(secs => $1)), '[]'),
			   coalesce(jsonb_agg(quote_ident(r.rolname::text) ORDER BY r.rolname)
						FILTER (WHERE l.last_login_at IS NULL
								AND (l.recording_since IS NULL OR l.recording_since >= now() - make_interval(secs => $1))), '[]')
		  FROM pg_roles r
		  LEFT JOIN finsec.role_last_login() l ON l.role = r.rolname
		 WHERE r.rolcanlogin
		   AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now())$q$
	  INTO since, bad, unknown USING secs;
	status := CASE WHEN jsonb_array_length(bad) > 0 THEN 'fail'
				   WHEN jsonb_array_length(unknown) > 0 THEN 'warn' ELSE 'pass' END;
	evidence := jsonb_build_object('inactive_after_seconds', secs, 'recording_since', since,
								   'inactive', bad, 'not_yet_judged', unknown);
END
$$;

CREATE FUNCTION finsec._check_privileged_attributes(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	repl text[] := CASE WHEN jsonb_typeof(args -> 'replication_roles') = 'array'
						THEN ARRAY(SELECT jsonb_array_elements_text(args -> 'replication_roles')) ELSE '{}' END;
	bad jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(r.rolname::text),
												 'attributes', to_jsonb(array_remove(ARRAY[
													CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END,
													CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END,
													CASE WHEN r.rolreplication AND r.rolname <> ALL (repl) THEN 'REPLICATION' END], NULL)))
							  ORDER BY r.rolname), '[]')
	  INTO bad
	  FROM pg_roles r
	 WHERE r.rolcanlogin AND NOT r.rolsuper
	   AND (r.rolcreaterole OR r.rolbypassrls OR (r.rolreplication AND r.rolname <> ALL (repl)));
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('replication_roles', to_jsonb(repl), 'roles', bad);
END
$$;

CREATE FUNCTION finsec._check_public_privileges(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lim integer := 100;
	schemas jsonb;
	tabs jsonb;
	funcs jsonb;
	ntabs integer;
	nfuncs integer;
BEGIN
	-- PUBLIC CREATE on any schema (public included)
	SELECT coalesce(jsonb_agg(quote_ident(n.nspname::text) ORDER BY n.nspname), '[]') INTO schemas
	  FROM pg_namespace n
	 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'
	   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) x
				    WHERE x.grantee = 0 AND x.privilege_type = 'CREATE');
	-- PUBLIC privileges on relations of business schemas (not extension members)
	SELECT count(*), coalesce(jsonb_agg(t.j ORDER BY t.k) FILTER (WHERE t.rn <= lim), '[]') INTO ntabs, tabs
	  FROM (SELECT format('%I.%I', n.nspname, c.relname) AS k,
				   jsonb_build_object('relation', format('%I.%I', n.nspname, c.relname),
									  'privileges', (SELECT jsonb_agg(DISTINCT x.privilege_type)
													   FROM aclexplode(c.relacl) x WHERE x.grantee = 0)) AS j,
				   row_number() OVER (ORDER BY n.nspname, c.relname) AS rn
			  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE c.relnamespace IN (SELECT finsec._compliance_business_schemas())
			   AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relacl IS NOT NULL
			   AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) x WHERE x.grantee = 0)
			   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
								  AND d.objid = c.oid AND d.deptype = 'e')) t;
	-- PUBLIC EXECUTE on SECURITY DEFINER functions of business schemas
	SELECT count(*), coalesce(jsonb_agg(t.k ORDER BY t.k) FILTER (WHERE t.rn <= lim), '[]') INTO nfuncs, funcs
	  FROM (SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS k,
				   row_number() OVER (ORDER BY n.nspname, p.proname, p.oid) AS rn
			  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			 WHERE p.prosecdef AND p.pronamespace IN (SELECT finsec._compliance_business_schemas())
			   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
							WHERE x.grantee = 0 AND x.privilege_type = 'EXECUTE')
			   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
								  AND d.objid = p.oid AND d.deptype = 'e')) t;
	status := CASE WHEN jsonb_array_length(schemas) = 0 AND ntabs = 0 AND nfuncs = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('public_create_schemas', schemas,
								   'public_relations', ntabs, 'relations', tabs,
								   'public_security_definer_functions', nfuncs, 'functions', funcs,
								   'listed_at_most', lim);
END
$$;

-- ------------------------------ connections --------------------------

-- A setting of finsec.compliance_settings(), or NULL if the caller may not.
CREATE FUNCTION finsec._compliance_setting(n text)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.setting FROM finsec.compliance_settings() s WHERE s.name = n
$$;
REVOKE ALL ON FUNCTION finsec._compliance_setting(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_setting(text) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_ssl_enabled(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	status := CASE WHEN current_setting('ssl') = 'on' THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'ssl', 'value', current_setting('ssl'));
END
$$;

CREATE FUNCTION finsec._check_ssl_protocol(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	versions text[] := ARRAY['', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
	want text := coalesce(args ->> 'min', 'TLSv1.2');
	have text;
BEGIN
	IF NOT has_function_privilege('finsec.compliance_settings()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_settings()'); RETURN;
	END IF;
	have := finsec._compliance_setting('ssl_min_protocol_version');
	status := CASE WHEN current_setting('ssl') <> 'on' THEN 'fail'
				   WHEN array_position(versions, have) >= coalesce(array_position(versions, want), 4) THEN 'pass'
				   ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'ssl_min_protocol_version', 'value', have, 'min', want,
								   'ssl', current_setting('ssl'));
END
$$;

CREATE FUNCTION finsec._check_ssl_ciphers(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ciphers text;
	minv text;
	tok text;
	toks text[];
	allowed text[] := '{}';
	banned text[] := '{}';
	w text;
	open text[] := '{}';
	named text[] := '{}';
BEGIN
	IF NOT has_function_privilege('finsec.compliance_settings()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_settings()'); RETURN;
	END IF;
	ciphers := finsec._compliance_setting('ssl_ciphers');
	minv := finsec._compliance_setting('ssl_min_protocol_version');
	IF minv = 'TLSv1.3' THEN
		-- ssl_ciphers governs TLS 1.2 and older only; TLS 1.3 suites are all strong
		status := 'pass';
		evidence := jsonb_build_object('setting', 'ssl_ciphers', 'value', ciphers, 'ssl_min_protocol_version', minv,
									   'note', 'only TLS 1.3 is accepted, whose cipher suites are all of 128 bits or more');
		RETURN;
	END IF;
	toks := regexp_split_to_array(upper(coalesce(ciphers, '')), '[:, ]+');
	FOREACH tok IN ARRAY toks LOOP
		CONTINUE WHEN tok = '';
		IF left(tok, 1) = '!' THEN
			banned := banned || regexp_split_to_array(substr(tok, 2), '\+');
		ELSIF left(tok, 1) IN ('-', '+', '@') THEN
			CONTINUE;		-- removes (for now) or reorders: enables nothing
		ELSE
			allowed := allowed || regexp_split_to_array(tok, '\+');
			-- a cipher named explicitly (OpenSSL's names: ECDHE-RSA-DES-CBC3-SHA, ...)
			IF tok ~ '-' AND tok ~ '(^|-)(RC4|DES|DES40|DES-CBC|DES-CBC3|3DES|MD5|NULL|EXP|EXP1024|ADH|AECDH|IDEA|SEED|RC2)(-|$)' THEN
				named := named || tok;
			END IF;
		END IF;
	END LOOP;
	-- a weak class is open when a token enables it (or everything) and no ! removes it
	FOREACH w IN ARRAY ARRAY['NULL', 'EXPORT', 'RC4', 'DES', '3DES', 'MD5', 'MEDIUM', 'LOW', 'ANULL'] LOOP
		IF (w = ANY (allowed)
			OR (w IN ('NULL', 'ANULL') AND 'ENULL' = ANY (allowed))
			OR (w = 'EXPORT' AND 'EXP' = ANY (allowed))
			OR (allowed && ARRAY['ALL', 'COMPLEMENTOFALL', 'DEFAULT', 'COMPLEMENTOFDEFAULT'])
			OR (w = '3DES' AND 'MEDIUM' = ANY (allowed)))
		   AND NOT (w = ANY (banned)
					OR (w = 'NULL' AND 'ENULL' = ANY (banned))
					OR (w = 'EXPORT' AND 'EXP' = ANY (banned))) THEN
			open := open || w;
		END IF;
	END LOOP;
	status := CASE WHEN cardinality(open) = 0 AND cardinality(named) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'ssl_ciphers', 'value', ciphers, 'ssl_min_protocol_version', minv,
								   'weak_classes_allowed', to_jsonb(open), 'weak_ciphers_named', to_jsonb(named),
								   'judged', 'NULL, EXPORT, RC4, DES, 3DES, MD5, MEDIUM, LOW, aNULL must each be excluded with !');
END
$$;

-- pg_hba checks: every line, through the definer fact function.
CREATE FUNCTION finsec._compliance_hba(which text, args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h record;
	bad jsonb := '[]';
	weak jsonb := '[]';
	errors jsonb := '[]';
	n integer := 0;
	supers oid[];
	batch text[];
	batch_oids oid[];
	admins oid[];
	r oid;
BEGIN
	IF NOT has_function_privilege('finsec.compliance_hba_rules()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_hba_rules()'); RETURN;
	END IF;
	supers := ARRAY(SELECT oid FROM pg_roles WHERE rolsuper);
	admins := supers || ARRAY(SELECT oid FROM pg_roles WHERE rolcanlogin AND NOT rolsuper
								 AND to_regrole('finsec_admin') IS NOT NULL
								 AND pg_has_role(oid, to_regrole('finsec_admin'), 'MEMBER'));
	IF which = 'batch' THEN
		batch := ARRAY(SELECT btrim(x) FROM regexp_split_to_table(current_setting('finsec.compliance_batch_roles'), ',') x
						WHERE btrim(x) <> '');
		IF cardinality(batch) = 0 THEN
			status := 'out_of_scope';
			evidence := jsonb_build_object('setting', 'finsec.compliance_batch_roles', 'value', '',
										   'reason', 'no batch client role is declared');
			RETURN;
		END IF;
		batch_oids := ARRAY(SELECT oid FROM pg_roles WHERE rolname = ANY (batch));
	END IF;
	FOR h IN SELECT * FROM finsec.compliance_hba_rules() LOOP
		n := n + 1;
		IF h.error IS NOT NULL THEN
			errors := errors || jsonb_build_object('line', h.line_number, 'error', h.error);
			CONTINUE;
		END IF;
		CONTINUE WHEN h.auth_method = 'reject';
		IF which = 'trust' THEN
			IF h.auth_method = 'trust' THEN bad := bad || finsec._compliance_hba_line(h); END IF;
		ELSIF which = 'password_ssl' THEN
			IF h.type IN ('host', 'hostnossl', 'hostnogssenc') AND h.auth_method IN ('password', 'md5') THEN
				bad := bad || finsec._compliance_hba_line(h);
			END IF;
		ELSIF which = 'superuser_wide' THEN
			IF h.type <> 'local' AND finsec._compliance_hba_wide(h.address, h.netmask)
			   AND EXISTS (SELECT 1 FROM unnest(supers) s WHERE finsec._compliance_hba_reaches(h.user_name, s)) THEN
				bad := bad || finsec._compliance_hba_line(h);
			END IF;
		ELSIF which = 'batch' THEN
			IF EXISTS (SELECT 1 FROM unnest(batch_oids) b WHERE finsec._compliance_hba_reaches(h.user_name, b))
			   AND NOT (h.type = 'hostssl'
						AND (h.auth_method = 'cert' OR 'clientcert=verify-full' = ANY (h.options))) THEN
				bad := bad || finsec._compliance_hba_line(h);
			END IF;
		ELSIF which = 'admin' THEN
			CONTINUE WHEN NOT EXISTS (SELECT 1 FROM unnest(admins) a WHERE finsec._compliance_hba_reaches(h.user_name, a));
			IF h.type = 'local' THEN
				IF h.auth_method NOT IN ('peer', 'scram-sha-256', 'cert') THEN
					bad := bad || finsec._compliance_hba_line(h);
				END IF;
			ELSIF h.type <> 'hostssl' OR h.auth_method NOT IN ('cert', 'scram-sha-256')
				  OR finsec._compliance_hba_wide(h.address, h.netmask) THEN
				bad := bad || finsec._compliance_hba_line(h);
			ELSIF h.auth_method = 'scram-sha-256'
				  AND NOT h.options && ARRAY['clientcert=verify-full', 'clientcert=verify-ca'] THEN
				weak := weak || finsec._compliance_hba_line(h);		-- one factor only
			END IF;
		END IF;
	END LOOP;
	status := CASE WHEN jsonb_array_length(errors) > 0 OR jsonb_array_length(bad) > 0 THEN 'fail'
				   WHEN jsonb_array_length(weak) > 0 THEN 'warn'
				   WHEN which = 'batch' AND cardinality(batch_oids) < cardinality(batch) THEN 'warn'
				   ELSE 'pass' END;
	evidence := jsonb_build_object('hba_lines', n, 'errors', errors, 'offending_lines', bad);
	IF which = 'admin' THEN
		evidence := evidence || jsonb_build_object('single_factor_lines', weak,
			'admin_roles', (SELECT coalesce(jsonb_agg(quote_ident(rolname::text) ORDER BY rolname), '[]')
							  FROM pg_roles WHERE oid = ANY (admins)));
	ELSIF which = 'batch' THEN
		evidence := evidence || jsonb_build_object('batch_roles', to_jsonb(batch),
			'undefined_roles', to_jsonb(ARRAY(SELECT x FROM unnest(batch) x
											   WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = x))));
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_hba(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_hba(text, jsonb) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_hba_no_trust(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('trust', args) $$;
CREATE FUNCTION finsec._check_hba_password_over_ssl(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('password_ssl', args) $$;
CREATE FUNCTION finsec._check_hba_superuser_wide(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('superuser_wide', args) $$;
CREATE FUNCTION finsec._check_hba_batch_clientcert(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('batch', args) $$;
CREATE FUNCTION finsec._check_admin_strong_auth(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_hba('admin', args) $$;

-- The ALTER ROLE / ALTER DATABASE ... SET overrides of a setting (any role
-- may set its own defaults of a user setting): who, the value, and whether
-- it is the caller's own (then the caller's session does not show the
-- value other roles get).
CREATE FUNCTION finsec._compliance_setting_overrides(name text)
RETURNS TABLE (database text, role text, value text, callers boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN d.setdatabase = 0 THEN NULL ELSE quote_ident(db.datname) END,
		   CASE WHEN d.setrole = 0 THEN NULL ELSE quote_ident(r.rolname) END,
		   substr(c, strpos(c, '=') + 1),
		   d.setrole <> 0 AND r.rolname = session_user AND (d.setdatabase = 0 OR db.datname = current_database())
	  FROM pg_db_role_setting d
	 CROSS JOIN LATERAL unnest(d.setconfig) c
	  LEFT JOIN pg_database db ON db.oid = d.setdatabase
	  LEFT JOIN pg_roles r ON r.oid = d.setrole
	 WHERE lower(split_part(c, '=', 1)) = lower($1)
	 ORDER BY 1, 2
$$;
REVOKE ALL ON FUNCTION finsec._compliance_setting_overrides(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_setting_overrides(text) TO finsec_admin, finsec_auditor;

-- A timeout setting (milliseconds) at most max_seconds and not 0, for
-- every role and database (an override of a role's own is judged too).
CREATE FUNCTION finsec._compliance_timeout(name text, args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_s bigint := finsec._compliance_arg_int(args, 'max_seconds', 1800);
	ms bigint := (SELECT s.setting::bigint FROM pg_settings s WHERE s.name = _compliance_timeout.name);
	bad jsonb;
BEGIN
	SELECT jsonb_agg(jsonb_build_object('database', o.database, 'role', o.role, 'value', o.value))
	  INTO bad
	  FROM finsec._compliance_setting_overrides(name) o
	 CROSS JOIN LATERAL (SELECT CASE WHEN btrim(o.value) ~ '^[0-9]+$' THEN btrim(o.value)::numeric
									 ELSE extract(epoch FROM btrim(o.value)::interval) * 1000 END AS ms) v
	 WHERE v.ms <= 0 OR v.ms > max_s * 1000;
	status := CASE WHEN ms > 0 AND ms <= max_s * 1000 AND bad IS NULL THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', name, 'value_ms', ms, 'max_seconds', max_s);
	IF bad IS NOT NULL THEN
		evidence := evidence || jsonb_build_object('offending_overrides', bad);
	ELSIF status = 'pass' AND EXISTS (SELECT 1 FROM finsec._compliance_setting_overrides(name) o WHERE o.callers) THEN
		status := 'cannot_verify';
		evidence := evidence || jsonb_build_object(
			'reason', format('the caller has a role setting of %s: its session does not show the value other roles get', name),
			'needs', 'a caller without ALTER ROLE ... SET of this setting');
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_timeout(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_timeout(text, jsonb) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._check_idle_session_timeout(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_timeout('idle_session_timeout', args) $$;
CREATE FUNCTION finsec._check_idle_in_transaction_timeout(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM finsec._compliance_timeout('idle_in_transaction_session_timeout', args) $$;

CREATE FUNCTION finsec._check_connection_limits(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_total integer := finsec._compliance_arg_int(args, 'max_connections', 1000);
	per_role boolean := finsec._compliance_arg_bool(args, 'require_per_role', true);
	have integer := current_setting('max_connections')::integer;
	unlimited jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(quote_ident(r.rolname::text) ORDER BY r.rolname), '[]') INTO unlimited
	  FROM pg_roles r WHERE r.rolcanlogin AND NOT r.rolsuper AND r.rolconnlimit < 0;
	status := CASE WHEN have > max_total OR (per_role AND jsonb_array_length(unlimited) > 0) THEN 'fail' ELSE 'pass' END;
	evidence := jsonb_build_object('max_connections', have, 'max_connections_allowed', max_total,
								   'require_per_role', per_role, 'login_roles_without_limit', unlimited);
END
$$;

CREATE FUNCTION finsec._check_resource_limits(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want text[] := ARRAY['statement_timeout', 'temp_file_limit', 'work_mem'];
	app oid := to_regrole('finsec_app');
	n integer;
	bad jsonb;
BEGIN
	IF jsonb_typeof(args -> 'settings') = 'array' THEN
		want := ARRAY(SELECT jsonb_array_elements_text(args -> 'settings'));
	END IF;
	SELECT count(*),
		   coalesce(jsonb_agg(jsonb_build_object('role', quote_ident(r.rolname::text), 'missing', to_jsonb(m.missing))
							  ORDER BY r.rolname) FILTER (WHERE cardinality(m.missing) > 0), '[]')
	  INTO n, bad
	  FROM pg_roles r
	 CROSS JOIN LATERAL (
		SELECT ARRAY(SELECT w FROM unnest(want) w
					  WHERE NOT EXISTS (SELECT 1 FROM pg_db_role_setting s, unnest(s.setconfig) c
										 WHERE s.setrole = r.oid
										   AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
										   AND split_part(c, '=', 1) = w)) AS missing) m
	 WHERE app IS NOT NULL AND r.rolcanlogin AND NOT r.rolsuper AND pg_has_role(r.oid, app, 'MEMBER');
	IF n = 0 THEN
		status := 'out_of_scope';
		evidence := jsonb_build_object('reason', 'no login role is a member of finsec_app', 'settings', to_jsonb(want));
		RETURN;
	END IF;
	status := CASE WHEN jsonb_array_length(bad) = 0 THEN 'pass' ELSE 'warn' END;
	evidence := jsonb_build_object('settings', to_jsonb(want), 'application_roles', n, 'roles_missing_limits', bad);
END
$$;

-- ------------------------------ logging, the ledger ------------------

CREATE FUNCTION finsec._check_log_connections(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	status := CASE WHEN current_setting('log_connections') = 'on' THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'log_connections', 'value', current_setting('log_connections'));
END
$$;

CREATE FUNCTION finsec._check_log_disconnections(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	status := CASE WHEN current_setting('log_disconnections') = 'on' THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'log_disconnections', 'value', current_setting('log_disconnections'));
END
$$;

CREATE FUNCTION finsec._check_log_ddl(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ls text := current_setting('log_statement');
	spl text;
	pga text := current_setting('pgaudit.log', true);
BEGIN
	IF ls IN ('ddl', 'mod', 'all') THEN
		status := 'pass';
		evidence := jsonb_build_object('setting', 'log_statement', 'value', ls);
		RETURN;
	END IF;
	IF NOT has_function_privilege('finsec.compliance_settings()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.compliance_settings()'); RETURN;
	END IF;
	spl := finsec._compliance_setting('shared_preload_libraries');
	status := CASE WHEN 'pgaudit' = ANY (regexp_split_to_array(spl, '\s*,\s*'))
					AND EXISTS (SELECT 1 FROM regexp_split_to_table(lower(coalesce(pga, '')), '\s*,\s*') c
								 WHERE c IN ('ddl', 'all'))
					AND NOT EXISTS (SELECT 1 FROM regexp_split_to_table(lower(coalesce(pga, '')), '\s*,\s*') c
									 WHERE c IN ('-ddl'))
			  THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'log_statement', 'value', ls, 'shared_preload_libraries', spl,
								   'pgaudit.log', pga);
END
$$;

CREATE FUNCTION finsec._check_ledger_retention(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	want integer := finsec._compliance_arg_int(args, 'min_days', 183);
	have_s bigint := (SELECT CASE s.unit WHEN 'd' THEN s.setting::bigint * 86400 WHEN 'h' THEN s.setting::bigint * 3600
										  WHEN 'min' THEN s.setting::bigint * 60 WHEN 'ms' THEN s.setting::bigint / 1000
										  ELSE s.setting::bigint END
						FROM pg_settings s WHERE s.name = 'finsec.audit_retention');
BEGIN
	IF have_s IS NULL THEN
		status := 'fail';
		evidence := jsonb_build_object('setting', 'finsec.audit_retention', 'value', NULL, 'min_days', want,
									   'problem', 'finsec is not preloaded: the ledger retention is not defined');
		RETURN;
	END IF;
	status := CASE WHEN have_s >= want::bigint * 86400 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'finsec.audit_retention', 'value', current_setting('finsec.audit_retention'),
								   'days', round(have_s / 86400.0, 2), 'min_days', want);
END
$$;

CREATE FUNCTION finsec._check_ledger_capacity(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record;
BEGIN
	IF NOT has_function_privilege('finsec.status_audit()', 'EXECUTE') THEN
		status := 'cannot_verify'; evidence := finsec._compliance_cannot('finsec.status_audit()'); RETURN;
	END IF;
	SELECT * INTO s FROM finsec.status_audit() a WHERE a.component = 'audit_capacity';
	IF NOT FOUND THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'finsec.status_audit() has no audit_capacity row', 'needs', 'finsec 0.2 or later');
		RETURN;
	END IF;
	status := CASE WHEN s.ok THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('component', 'audit_capacity', 'ok', s.ok, 'detail', s.detail,
								   'capacity_warning', current_setting('finsec.audit_capacity_warning', true));
END
$$;

-- Every check of this section: invoker rights, finsec_admin and finsec_auditor.
DO $grants$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			  WHERE p.pronamespace = 'finsec'::regnamespace AND p.proname IN (
				'_check_finsec_preloaded', '_check_finsec_components', '_check_master_key', '_check_keys_verified',
				'_check_key_rotation', '_check_password_min_length', '_check_password_classes',
				'_check_password_max_age', '_check_password_encryption', '_check_password_verifiers',
				'_check_login_valid_until', '_check_superusers', '_check_duty_conflicts', '_check_duty_two_people',
				'_check_default_accounts', '_check_inactive_roles', '_check_privileged_attributes',
				'_check_public_privileges', '_check_ssl_enabled', '_check_ssl_protocol', '_check_ssl_ciphers',
				'_check_hba_no_trust', '_check_hba_password_over_ssl', '_check_hba_superuser_wide',
				'_check_hba_batch_clientcert', '_check_admin_strong_auth', '_check_idle_session_timeout',
				'_check_idle_in_transaction_timeout', '_check_connection_limits', '_check_resource_limits',
				'_check_log_connections', '_check_log_disconnections', '_check_log_ddl', '_check_ledger_verified',
				'_check_ledger_retention', '_check_ledger_capacity')
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO finsec_admin, finsec_auditor', f);
	END LOOP;
END
$grants$;

INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin) VALUES
	('finsec_preloaded', 'finsec._check_finsec_preloaded(jsonb)', 'finsec 已预加载', 'finsec is preloaded', true),
	('finsec_components', 'finsec._check_finsec_components(jsonb)', 'finsec 各组件状态正常', 'finsec components are ok', true),
	('master_key', 'finsec._check_master_key(jsonb)', '主密钥已加载', 'Keyring master key loaded', true),
	('keys_verified', 'finsec._check_keys_verified(jsonb)', '密钥定期校验', 'Keys verified recently', true),
	('key_rotation', 'finsec._check_key_rotation(jsonb)', '密钥按期更换', 'No key overdue for rotation', true),
	('password_min_length', 'finsec._check_password_min_length(jsonb)', '口令最小长度', 'Password minimum length', true),
	('password_classes', 'finsec._check_password_classes(jsonb)', '口令复杂度（字符类别）', 'Password character classes', true),
	('password_max_age', 'finsec._check_password_max_age(jsonb)', '口令最长有效期', 'Password maximum age', true),
	('password_encryption', 'finsec._check_password_encryption(jsonb)', '口令加密存储（scram-sha-256）', 'Password encryption (scram-sha-256)', true),
	('password_verifiers', 'finsec._check_password_verifiers(jsonb)', '无 md5 或明文口令', 'No md5 or plaintext password verifier', true),
	('login_valid_until', 'finsec._check_login_valid_until(jsonb)', '登录角色口令均有有效期', 'Every login password has VALID UNTIL', true),
	('superusers', 'finsec._check_superusers(jsonb)', '超级用户最少化', 'No superuser beyond the bootstrap role', true),
	('duty_conflicts', 'finsec._check_duty_conflicts(jsonb)', '职责分离（无互斥职责兼任）', 'No login role holds conflicting duties', true),
	('duty_two_people', 'finsec._check_duty_two_people(jsonb)', '关键岗位至少两人（A/B 角）', 'Each finsec duty held by two people', true),
	('default_accounts', 'finsec._check_default_accounts(jsonb)', '无默认账户', 'No default account with a password', true),
	('inactive_roles', 'finsec._check_inactive_roles(jsonb)', '无长期未用账户', 'No inactive login role', true),
	('privileged_attributes', 'finsec._check_privileged_attributes(jsonb)', '特权属性最小化', 'No CREATEROLE, BYPASSRLS or stray REPLICATION', true),
	('public_privileges', 'finsec._check_public_privileges(jsonb)', '无 PUBLIC 权限', 'No privileges granted to PUBLIC', true),
	('ssl_enabled', 'finsec._check_ssl_enabled(jsonb)', '启用 SSL', 'SSL enabled', true),
	('ssl_protocol', 'finsec._check_ssl_protocol(jsonb)', 'SSL 最低协议版本', 'SSL minimum protocol version', true),
	('ssl_ciphers', 'finsec._check_ssl_ciphers(jsonb)', '强加密套件', 'Strong SSL ciphers only', true),
	('hba_no_trust', 'finsec._check_hba_no_trust(jsonb)', '无免认证（trust）访问', 'No trust lines in pg_hba.conf', true),
	('hba_password_over_ssl', 'finsec._check_hba_password_over_ssl(jsonb)', '口令仅经 SSL 传输', 'Passwords only over SSL', true),
	('hba_superuser_wide', 'finsec._check_hba_superuser_wide(jsonb)', '超级用户不可从任意地址访问', 'Superusers not reachable from any address', true),
	('hba_batch_clientcert', 'finsec._check_hba_batch_clientcert(jsonb)', '批量客户端双向认证', 'Batch clients use client certificates', true),
	('admin_strong_auth', 'finsec._check_admin_strong_auth(jsonb)', '管理员强认证与登录地址限制', 'Strong authentication and restricted addresses for administrators', true),
	('idle_session_timeout', 'finsec._check_idle_session_timeout(jsonb)', '空闲会话超时', 'Idle session timeout', true),
	('idle_in_transaction_timeout', 'finsec._check_idle_in_transaction_timeout(jsonb)', '事务内空闲超时', 'Idle in transaction timeout', true),
	('connection_limits', 'finsec._check_connection_limits(jsonb)', '并发连接数限制', 'Connection limits in total and per role', true),
	('resource_limits', 'finsec._check_resource_limits(jsonb)', '应用账户资源限制', 'Resource limits of application roles', true),
	('log_connections', 'finsec._check_log_connections(jsonb)', '记录连接', 'Connections logged', true),
	('log_disconnections', 'finsec._check_log_disconnections(jsonb)', '记录断开连接', 'Disconnections logged', true),
	('log_ddl', 'finsec._check_log_ddl(jsonb)', '记录 DDL 语句', 'DDL statements logged', true),
	('ledger_verified', 'finsec._check_ledger_verified(jsonb)', '审计账本定期校验', 'Audit ledger verified recently', true),
	('ledger_retention', 'finsec._check_ledger_retention(jsonb)', '审计记录保存期限', 'Audit ledger retention', true),
	('ledger_capacity', 'finsec._check_ledger_capacity(jsonb)', '审计存储容量', 'Audit ledger below its capacity warning', true);


-- Which clauses each check answers, with the clause's numbers.
INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin) VALUES
	('003:6.4.3.3.6', 'finsec_preloaded', '{}', true),
	('003:6.4.3.3.6', 'finsec_components', '{}', true),
	('004:7.5.9-enh', 'master_key', '{}', true),
	('002:3.2.7', 'master_key', '{}', true),
	('004:7.5.9-enh', 'keys_verified', '{}', true),
	('002:3.2.7', 'keys_verified', '{}', true),
	('004:7.5.9-enh', 'key_rotation', '{"max_age_days": 365}', true),
	('002:3.2.7', 'key_rotation', '{"max_age_days": 365}', true),
	('004:7.5.9a', 'password_min_length', '{"min_length": 8}', true),
	('004:8.3.3a', 'password_min_length', '{"min_length": 8}', true),
	('004:8.3.4a', 'password_min_length', '{"min_length": 8}', true),
	('002:3.2.6', 'password_min_length', '{"min_length": 6}', true),
	('004:7.5.9a', 'password_classes', '{"min_classes": 3}', true),
	('004:8.3.3a', 'password_classes', '{"min_classes": 3}', true),
	('004:8.3.4a', 'password_classes', '{"min_classes": 3}', true),
	('002:3.2.6', 'password_classes', '{"min_classes": 2}', true),
	('004:7.5.9a', 'password_max_age', '{"max_days": 180, "app_max_days": 90}', true),
	('004:8.3.2f', 'password_max_age', '{"max_days": 180, "app_max_days": 90}', true),
	('004:8.3.3a', 'password_max_age', '{"max_days": 180, "app_max_days": 90}', true),
	('004:8.3.4a', 'password_max_age', '{"max_days": 180, "app_max_days": 90}', true),
	('002:3.2.6', 'password_max_age', '{"max_days": 90, "app_max_days": 90}', true),
	('002:3.2.6', 'password_encryption', '{"value": "scram-sha-256"}', true),
	('003:6.4.3.3.6', 'password_encryption', '{"value": "scram-sha-256"}', true),
	('002:3.2.6', 'password_verifiers', '{}', true),
	('004:7.5.9a', 'login_valid_until', '{}', true),
	('004:8.3.3a', 'login_valid_until', '{}', true),
	('004:8.3.3b', 'superusers', '{"max_extra": 0}', true),
	('003:6.4.2.2.1', 'superusers', '{"max_extra": 0}', true),
	('004:7.2.2b', 'duty_conflicts', '{}', true),
	('004:7.2.2c', 'duty_conflicts', '{}', true),
	('004:7.3.5b', 'duty_conflicts', '{}', true),
	('004:8.3.3b', 'duty_conflicts', '{}', true),
	('003:6.4.2.2.1', 'duty_conflicts', '{}', true),
	('002:3.2.6', 'duty_conflicts', '{}', true),
	('004:7.2.2a-enh', 'duty_two_people', '{"min_people": 2}', true),
	('003:6.4.2.2.3', 'default_accounts', '{}', true),
	('003:6.4.2.1.1', 'default_accounts', '{}', true),
	('004:8.3.3b', 'default_accounts', '{}', true),
	('002:3.2.5', 'default_accounts', '{}', true),
	('002:3.2.5', 'inactive_roles', '{}', true),
	('002:3.2.6', 'inactive_roles', '{}', true),
	('003:6.4.2.2.3', 'inactive_roles', '{}', true),
	('004:8.3.3b', 'inactive_roles', '{}', true),
	('004:8.3.3b', 'privileged_attributes', '{}', true),
	('003:6.4.2.2.1', 'privileged_attributes', '{}', true),
	('003:6.4.3.3.1', 'privileged_attributes', '{}', true),
	('003:6.4.3.3.1', 'public_privileges', '{}', true),
	('004:8.3.4b', 'public_privileges', '{}', true),
	('001:11.3.2d', 'public_privileges', '{}', true),
	('003:6.4.3.3.6', 'public_privileges', '{}', true),
	('002:4.4.2', 'ssl_enabled', '{}', true),
	('004:8.2.1', 'ssl_enabled', '{}', true),
	('002:3.2.6', 'ssl_enabled', '{}', true),
	('003:6.4.3.3.6', 'ssl_enabled', '{}', true),
	('002:4.4.2', 'ssl_protocol', '{"min": "TLSv1.2"}', true),
	('004:8.2.1', 'ssl_protocol', '{"min": "TLSv1.2"}', true),
	('002:4.4.2', 'ssl_ciphers', '{}', true),
	('004:8.2.1', 'ssl_ciphers', '{}', true),
	('003:6.4.2.1.1', 'hba_no_trust', '{}', true),
	('004:8.3.3a', 'hba_no_trust', '{}', true),
	('003:6.4.3.3.6', 'hba_no_trust', '{}', true),
	('002:3.2.6', 'hba_password_over_ssl', '{}', true),
	('004:8.3.3a', 'hba_password_over_ssl', '{}', true),
	('003:6.4.1.7.3', 'hba_superuser_wide', '{}', true),
	('003:6.4.2.8.1', 'hba_superuser_wide', '{}', true),
	('004:8.3.3e', 'hba_superuser_wide', '{}', true),
	('002:3.2.5', 'hba_superuser_wide', '{}', true),
	('004:8.2.2c-enh', 'hba_batch_clientcert', '{}', true),
	('003:6.4.1.7.3', 'admin_strong_auth', '{}', true),
	('003:6.4.2.1.1', 'admin_strong_auth', '{}', true),
	('003:6.4.2.8.1', 'admin_strong_auth', '{}', true),
	('004:8.3.3a-enh', 'admin_strong_auth', '{}', true),
	('004:8.3.3e', 'admin_strong_auth', '{}', true),
	('003:6.4.1.2.6', 'idle_session_timeout', '{"max_seconds": 1800}', true),
	('004:8.3.4g', 'idle_session_timeout', '{"max_seconds": 1800}', true),
	('003:6.4.1.2.6', 'idle_in_transaction_timeout', '{"max_seconds": 1800}', true),
	('004:8.3.4g', 'idle_in_transaction_timeout', '{"max_seconds": 1800}', true),
	('003:6.4.1.2.6', 'connection_limits', '{"require_per_role": true}', true),
	('004:8.3.4g', 'connection_limits', '{"require_per_role": true}', true),
	('003:6.4.2.8.2', 'connection_limits', '{"require_per_role": true}', true),
	('003:6.4.2.8.2', 'resource_limits', '{}', true),
	('004:8.3.3e', 'resource_limits', '{}', true),
	('004:8.3.4i-enh', 'resource_limits', '{}', true),
	('003:6.4.2.3.1', 'log_connections', '{}', true),
	('004:8.3.3c', 'log_connections', '{}', true),
	('004:7.1.2c', 'log_connections', '{}', true),
	('003:6.4.3.3.6', 'log_connections', '{}', true),
	('003:6.4.2.3.1', 'log_disconnections', '{}', true),
	('004:8.3.3c', 'log_disconnections', '{}', true),
	('003:6.4.2.3.1', 'log_ddl', '{}', true),
	('004:8.3.3c', 'log_ddl', '{}', true),
	('004:7.1.2c', 'log_ddl', '{}', true),
	('002:3.2.5', 'log_ddl', '{}', true),
	('003:6.4.3.3.6', 'log_ddl', '{}', true),
	('003:6.4.2.3.2', 'ledger_verified', '{}', true),
	('004:8.3.4c', 'ledger_verified', '{}', true),
	('004:7.1.2e', 'ledger_retention', '{"min_days": 183}', true),
	('002:3.2.6', 'ledger_retention', '{"min_days": 92}', true),
	('003:6.4.1.3.5-enh', 'ledger_capacity', '{}', true);


-- Clauses the catalog part added beyond the digest that these checks answer
-- (docs/compliance.md, "Mappings still to add").
INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin) VALUES
	('003:6.4.1.2.4', 'public_privileges', '{}', true),
	('003:6.4.1.3.4', 'ledger_verified', '{}', true),
	('003:6.4.1.7.4', 'hba_password_over_ssl', '{}', true),
	('003:6.4.1.8.4', 'hba_password_over_ssl', '{}', true),
	('003:6.4.2.1.2', 'password_min_length', '{"min_length": 8}', true),
	('003:6.4.2.1.2', 'password_classes', '{"min_classes": 3}', true),
	('003:6.4.2.1.2', 'password_max_age', '{"max_days": 180, "app_max_days": 90}', true),
	('003:6.4.2.2.2', 'hba_no_trust', '{}', true),
	('003:6.4.2.4.4', 'public_privileges', '{}', true),
	('003:6.4.2.4.4', 'password_encryption', '{}', true),
	('003:6.4.3.1.1', 'default_accounts', '{}', true),
	('003:6.4.3.1.2', 'password_min_length', '{"min_length": 8}', true),
	('003:6.4.3.1.2', 'password_classes', '{"min_classes": 3}', true),
	('003:6.4.3.1.3', 'admin_strong_auth', '{}', true),
	('003:6.4.3.1.6', 'password_max_age', '{"max_days": 180, "app_max_days": 90}', true),
	('003:6.4.3.1.6', 'login_valid_until', '{}', true),
	('003:6.4.3.1.7', 'idle_session_timeout', '{"max_seconds": 1800}', true),
	('003:6.4.3.3.2', 'public_privileges', '{}', true),
	('003:6.4.3.4.2', 'ledger_verified', '{}', true),
	('004:7.3.5a-enh', 'duty_two_people', '{}', true),
	('004:7.4.4c', 'duty_conflicts', '{}', true),
	('004:7.5.7a-enh', 'superusers', '{}', true),
	('004:7.5.7a-enh', 'privileged_attributes', '{}', true),
	('004:8.2.2a', 'ssl_protocol', '{"min": "TLSv1.2"}', true),
	('004:8.2.2a', 'ssl_ciphers', '{}', true),
	('004:8.2.2b', 'hba_password_over_ssl', '{}', true),
	('004:8.3.3b-enh', 'ledger_verified', '{}', true),
	('004:8.3.4a-enh', 'admin_strong_auth', '{}', true),
	('004:8.3.4e-enh', 'ssl_enabled', '{}', true),
	('004:8.3.4f-enh', 'hba_password_over_ssl', '{}', true),
	('004:8.3.5a-enh', 'ssl_enabled', '{}', true);

-- (end of section 3)



-- ---------------------------------------------------------------------
-- 4. Checks of data: card data in plain columns, sensitive
--    authentication data, unprotected posted tables, unlabelled
--    sensitive columns, outbound links.
-- ---------------------------------------------------------------------

/*
 * Which columns the data checks look at (docs/compliance.md):
 * columns of user tables, i.e. not of pg_catalog, information_schema,
 * the toast and temporary schemas, nor finsec's own (finsec,
 * finsec_archive).  Read from the catalogs only: every role may read
 * pg_class, pg_attribute and pg_type, so the name-based checks need no
 * privilege.  kind: 'plain' (the base type, through one domain, is
 * text, varchar, bpchar, int8 or numeric: a card number can sit in it),
 * 'finsec' (a finsec type holding personal or card data: protected_*,
 * bank_card, bank_account, cn_resident_id, uscc, cn_mobile, directly,
 * through a domain or as an array), or 'other'.
 */
CREATE FUNCTION finsec._compliance_user_columns(
	OUT relid oid, OUT relkind "char", OUT relispartition boolean, OUT nspname name, OUT relname name,
	OUT attnum smallint, OUT column_name name, OUT atttypid oid, OUT atttypmod integer, OUT kind text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
	-- The types of each kind first (a few hundred rows of pg_type), then
	-- one pass over pg_attribute comparing OIDs.
	WITH plain AS MATERIALIZED (
		SELECT array_agg(t.oid) AS oids FROM pg_type t
		 WHERE t.oid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'int8'::regtype, 'numeric'::regtype)
			OR (t.typtype = 'd' AND t.typbasetype IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype,
													   'int8'::regtype, 'numeric'::regtype))),
	fin AS MATERIALIZED (
		SELECT array_agg(t.oid) AS oids FROM pg_type t
		 WHERE t.typnamespace = 'finsec'::regnamespace AND t.typname IN
			   ('bank_card', 'bank_account', 'protected_text', 'protected_resident_id', 'protected_uscc',
				'protected_mobile', 'cn_resident_id', 'uscc', 'cn_mobile')),
	fin_arr AS MATERIALIZED (
		SELECT array_agg(t.oid) AS oids FROM pg_type t, fin
		 WHERE t.oid = ANY (fin.oids)
			OR (t.typelem = ANY (fin.oids) AND t.typsubscript = 'array_subscript_handler'::regproc)),
	fin_all AS MATERIALIZED (
		SELECT array_agg(t.oid) AS oids FROM pg_type t, fin_arr
		 WHERE t.oid = ANY (fin_arr.oids) OR (t.typtype = 'd' AND t.typbasetype = ANY (fin_arr.oids)))
	SELECT c.oid, c.relkind, c.relispartition, n.nspname, c.relname, a.attnum, a.attname, a.atttypid, a.atttypmod,
		   CASE WHEN a.atttypid = ANY (plain.oids) THEN 'plain'
				WHEN a.atttypid = ANY (fin_all.oids) THEN 'finsec'
				ELSE 'other' END
	  FROM pg_class c
	  JOIN pg_namespace n ON n.oid = c.relnamespace
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped,
		   plain, fin_all
	 WHERE c.relkind IN ('r', 'p', 'm', 'f')
	   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'finsec', 'finsec_archive')
	   AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
$$;
COMMENT ON FUNCTION finsec._compliance_user_columns() IS
	'internal: the columns of user tables the data checks judge, with their kind (plain, finsec, other); catalogs only';
REVOKE ALL ON FUNCTION finsec._compliance_user_columns() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_user_columns() TO finsec_admin, finsec_auditor;

/*
 * Whether a value looks like a card number: 13-19 digits once white space
 * and dashes are removed, a plausible issuer prefix (iin, a regular
 * expression on the digits), not one digit repeated, and the Luhn check
 * (finsec.is_valid_bank_card, C).  Built-in operators only, qualified.
 */
CREATE FUNCTION finsec._compliance_card_like(v text, iin text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
			 WHEN v IS NULL OR octet_length(v) > 64 THEN false
			 ELSE (SELECT d OPERATOR(pg_catalog.~) '^[0-9]{13,19}$'
						  AND d OPERATOR(pg_catalog.~) coalesce(iin, '^(2[2-7]|3[0-9]|4|5[1-5]|6)')
						  AND d OPERATOR(pg_catalog.!~) '^(.)\1*$'
						  AND coalesce(finsec.is_valid_bank_card(d), false)
					 FROM (SELECT pg_catalog.regexp_replace(v, '[\s-]', '', 'g') AS d) x)
		   END
$$;
COMMENT ON FUNCTION finsec._compliance_card_like(text, text) IS
	'internal: whether a value looks like a card number (13-19 digits without spaces and dashes, issuer prefix iin, Luhn); never raises';
REVOKE ALL ON FUNCTION finsec._compliance_card_like(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_card_like(text, text) TO finsec_admin, finsec_auditor;

/*
 * Sampling of user tables for the card checks, AS THE CALLER (SECURITY
 * INVOKER): at most sample_tables tables, the largest first (relpages
 * descending, then schema and table name: deterministic for a given
 * catalog state), up to sample_rows rows of each (the first rows of a
 * plain SELECT ... LIMIT, read with ONLY), of every column of kind
 * 'plain'.  Only ordinary tables and partitions (relkind 'r'): never a
 * view, materialised view, foreign table or partitioned parent, whose
 * reading would run code their owner defined; only built-in types, so
 * no owner's output function or operator runs; row_security off, so a
 * table whose policies would apply raises (caught: not verifiable)
 * instead of running the policy's expressions; lock_timeout 100ms, so a
 * locked table is not verifiable rather than a hung check.  Each table
 * in its own subtransaction.  Returns counts only, never a value:
 *   {"columns": [[table, column, non_null, card_hits, track2_hits,
 *                 short_digit_hits], ...]  (columns with any hit)
 *    "tables_sampled", "tables_unreadable", "unreadable": [first 50],
 *    "tables_not_sampled", "candidate_tables"}
 * Each count only when asked: card_hits with iin (the issuer prefixes;
 * NULL: not counted), track2_hits with track, short_digit_hits (values of
 * 3 or 4 digits) for columns whose name matches short_name_pattern
 * (CVV-like names; NULL: none).  Cheap tests (length, characters, '=')
 * come before the regular expressions and the Luhn check.
 */
CREATE FUNCTION finsec._compliance_data_sample(sample_rows integer, sample_tables integer,
											   iin text, short_name_pattern text, track boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET row_security = off
SET lock_timeout = '100ms'
SET jit = off
AS $$
DECLARE
	r record;
	q text;
	res jsonb;
	cols jsonb := '[]';
	sampled integer := 0;
	unreadable integer := 0;
	unreadable_names jsonb := '[]';
	not_sampled integer := 0;
	not_read integer := 0;
	candidates integer := 0;
	-- finsec sensitivity labels: a column whose effective label is
	-- restricted is read only by a cleared role (the label provider
	-- refuses anyone else, and writes a label.read_refused row); such a
	-- table is not verifiable for an uncleared caller, without a read.
	any_labels boolean := EXISTS (SELECT 1 FROM pg_seclabel sl WHERE sl.provider = 'finsec');
	can_label boolean := to_regprocedure('finsec._label_effective(regclass, smallint)') IS NOT NULL
						 AND has_function_privilege('finsec._label_effective(regclass, smallint)', 'EXECUTE');
	is_super boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
	cleared integer;
	needed integer;
	shorts boolean[];
	i integer;
	exprs text[];
BEGIN
	sample_rows := greatest(coalesce(sample_rows, 0), 0);
	sample_tables := greatest(coalesce(sample_tables, 0), 0);
	short_name_pattern := coalesce(short_name_pattern, '(?!)');
	track := coalesce(track, false);
	-- The candidate tables in their order; the privileges and the
	-- CVV-like names are looked at only for the tables sampled.
	FOR r IN
		SELECT u.relid, format('%I.%I', u.nspname, u.relname) AS table_name, c.relnamespace AS nsp,
			   array_agg(u.column_name ORDER BY u.attnum) AS cols,
			   array_agg(u.attnum ORDER BY u.attnum) AS attnums,
			   count(*) OVER () AS total
		  FROM finsec._compliance_user_columns() u
		  JOIN pg_class c ON c.oid = u.relid
		 WHERE u.relkind = 'r' AND u.kind = 'plain'
		 GROUP BY u.relid, u.nspname, u.relname, c.relnamespace, c.relpages
		 ORDER BY c.relpages DESC, u.nspname, u.relname
	LOOP
		candidates := r.total;
		IF sampled + unreadable >= sample_tables OR sample_rows = 0 THEN
			EXIT;
		END IF;
		IF NOT has_schema_privilege(r.nsp, 'USAGE')
		   OR NOT (SELECT bool_and(has_column_privilege(r.relid, a, 'SELECT')) FROM unnest(r.attnums) a) THEN
			unreadable := unreadable + 1;
			IF jsonb_array_length(unreadable_names) < 50 THEN
				unreadable_names := unreadable_names || jsonb_build_object('table', r.table_name, 'reason', 'no SELECT privilege');
			END IF;
			CONTINUE;
		END IF;
		IF any_labels AND can_label AND NOT is_super THEN
			SELECT max(CASE l WHEN 'quasi_identifier' THEN 3 WHEN 'identifier' THEN 4 WHEN 'sensitive' THEN 5 ELSE 0 END)
			  INTO needed
			  FROM unnest(r.attnums) a, LATERAL finsec._label_effective(r.relid::regclass, a) l;
			IF coalesce(needed, 0) >= 3 THEN
				IF cleared IS NULL THEN
					cleared := 0;
					IF has_table_privilege('finsec.label_clearance', 'SELECT') THEN
						SELECT coalesce(max(CASE lc.label WHEN 'quasi_identifier' THEN 3 WHEN 'identifier' THEN 4
														  WHEN 'sensitive' THEN 5 END), 0)
						  INTO cleared
						  FROM finsec.label_clearance lc
						  JOIN pg_roles g ON g.rolname = lc.grantee
						 WHERE pg_has_role(current_user, g.oid, 'USAGE');
					END IF;
				END IF;
				IF cleared < needed THEN
					unreadable := unreadable + 1;
					IF jsonb_array_length(unreadable_names) < 50 THEN
						unreadable_names := unreadable_names || jsonb_build_object('table', r.table_name, 'reason',
							'a restricted sensitivity label and no clearance for it');
					END IF;
					CONTINUE;
				END IF;
			END IF;
		END IF;
		shorts := ARRAY(SELECT c OPERATOR(pg_catalog.~*) short_name_pattern FROM unnest(r.cols) WITH ORDINALITY x(c, n) ORDER BY n);
		exprs := '{}';
		FOR i IN 1 .. array_length(r.cols, 1) LOOP
			-- cheap tests first (length, characters, '='), the regular
			-- expressions and the Luhn check only on what passes them; the
			-- values in collation "C" (an owner's nondeterministic
			-- collation would make the tests raise)
			exprs := exprs || format('count(x.%1$I), %3$s, %4$s, %2$s',
									 r.cols[i],
									 CASE WHEN shorts[i]
										  THEN format('count(*) FILTER (WHERE octet_length(btrim(x.%1$I)) IN (3, 4) '
													  'AND ltrim(btrim(x.%1$I), ''0123456789'') = '''')', r.cols[i])
										  ELSE '0' END,
									 CASE WHEN iin IS NOT NULL
										  THEN format('count(*) FILTER (WHERE CASE WHEN octet_length(x.%1$I) BETWEEN 13 AND 64 '
													  'AND ltrim(x.%1$I, '' 0123456789-'') = '''' '
													  'THEN finsec._compliance_card_like(x.%1$I, $2) ELSE false END)', r.cols[i])
										  ELSE '0' END,
									 CASE WHEN track
										  THEN format('count(*) FILTER (WHERE CASE WHEN strpos(left(x.%1$I, 4096), ''='') > 0 '
													  'THEN left(x.%1$I, 4096) ~ ''(^|[^0-9])[0-9]{13,19}=[0-9]{4}'' ELSE false END)', r.cols[i])
										  ELSE '0' END);
		END LOOP;
		q := format('SELECT pg_catalog.jsonb_build_array(%s) FROM (SELECT %s FROM ONLY %s LIMIT $1) x',
					array_to_string(exprs, ', '),
					(SELECT string_agg(format('%1$I::text COLLATE "C" AS %1$I', c), ', ') FROM unnest(r.cols) c),
					r.table_name);
		BEGIN
			EXECUTE q INTO res USING sample_rows, iin;
			sampled := sampled + 1;
			FOR i IN 1 .. array_length(r.cols, 1) LOOP
				IF (res ->> (4 * (i - 1) + 1))::bigint > 0 OR (res ->> (4 * (i - 1) + 2))::bigint > 0
				   OR (res ->> (4 * (i - 1) + 3))::bigint > 0 THEN
					cols := cols || jsonb_build_array(jsonb_build_array(
								r.table_name, quote_ident(r.cols[i]), res -> (4 * (i - 1)), res -> (4 * (i - 1) + 1),
								res -> (4 * (i - 1) + 2), res -> (4 * (i - 1) + 3)));
				END IF;
			END LOOP;
		EXCEPTION WHEN OTHERS THEN
			unreadable := unreadable + 1;
			IF jsonb_array_length(unreadable_names) < 50 THEN
				unreadable_names := unreadable_names || jsonb_build_object('table', r.table_name, 'reason',
					CASE SQLSTATE WHEN '42501' THEN 'insufficient privilege or row-level security'
								  WHEN '55P03' THEN 'locked'
								  ELSE 'error ' || SQLSTATE END);
			END IF;
		END;
	END LOOP;
	-- Materialised views and foreign tables are never read (a refresh or a
	-- foreign data wrapper would run someone's code): they count as not
	-- sampled, so that a card column there makes a warn, not a silent pass.
	SELECT count(DISTINCT u.relid) INTO not_read
	  FROM finsec._compliance_user_columns() u
	 WHERE u.relkind IN ('m', 'f') AND u.kind = 'plain';
	not_sampled := candidates - sampled - unreadable + not_read;
	RETURN jsonb_build_object('columns', cols, 'tables_sampled', sampled, 'tables_unreadable', unreadable,
							  'unreadable', unreadable_names, 'tables_not_sampled', not_sampled,
							  'views_and_foreign_tables_not_read', not_read,
							  'candidate_tables', candidates);
END
$$;
COMMENT ON FUNCTION finsec._compliance_data_sample(integer, integer, text, text, boolean) IS
	'internal: sample user tables as the caller (relkind r, ONLY, built-in types, row_security off, lock_timeout 100ms) for card numbers, track-2 data and short digit codes; counts only';
REVOKE ALL ON FUNCTION finsec._compliance_data_sample(integer, integer, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_data_sample(integer, integer, text, text, boolean) TO finsec_admin, finsec_auditor;

/*
 * The sample, once per top-level statement: compliance_check() calls
 * card_numbers_plain and card_sensitive_data on several clauses in one
 * statement, and with their default arguments they ask for the same
 * sample.  It is kept in a transaction-local placeholder setting,
 * finsec_compliance.sample (no table, so nothing of anyone's runs when it
 * is written or read), prefixed by a key of the statement's start, the
 * caller and the parameters.  A value preset by ALTER ROLE or ALTER
 * DATABASE cannot carry the key of a statement not yet started; only the
 * caller's own session, within the statement, could forge one.
 */
CREATE FUNCTION finsec._compliance_data_sample_once(sample_rows integer, sample_tables integer,
													iin text, short_name_pattern text, track boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cache_key text := md5(concat_ws(E'\x1f', statement_timestamp()::text, current_user, pg_backend_pid()::text,
								   coalesce(sample_rows::text, '-'), coalesce(sample_tables::text, '-'),
								   coalesce(iin, E'\x1e'), coalesce(short_name_pattern, E'\x1e'),
								   coalesce(track, false)::text));
	cached text := current_setting('finsec_compliance.sample', true);
	res jsonb;
BEGIN
	IF cached IS NOT NULL AND left(cached, 33) = cache_key || ':' THEN
		BEGIN
			res := substr(cached, 34)::jsonb;
		EXCEPTION WHEN OTHERS THEN
			res := NULL;
		END;
		IF jsonb_typeof(res) = 'object' THEN
			RETURN res;
		END IF;
	END IF;
	res := finsec._compliance_data_sample(sample_rows, sample_tables, iin, short_name_pattern, track);
	PERFORM set_config('finsec_compliance.sample', cache_key || ':' || res::text, true);
	RETURN res;
END
$$;
COMMENT ON FUNCTION finsec._compliance_data_sample_once(integer, integer, text, text, boolean) IS
	'internal: _compliance_data_sample once per statement, caller and parameters (kept in the transaction-local setting finsec_compliance.sample)';
REVOKE ALL ON FUNCTION finsec._compliance_data_sample_once(integer, integer, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_data_sample_once(integer, integer, text, text, boolean) TO finsec_admin, finsec_auditor;

-- The bounds of sampling: the settings (SIGHUP: a caller cannot lower
-- them for its own session), their defaults without the library.
CREATE FUNCTION finsec._compliance_sample_bounds(OUT sample_rows integer, OUT sample_tables integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(nullif(current_setting('finsec.compliance_sample_rows', true), '')::integer, 200),
		   coalesce(nullif(current_setting('finsec.compliance_sample_tables', true), '')::integer, 2000)
$$;
REVOKE ALL ON FUNCTION finsec._compliance_sample_bounds() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_sample_bounds() TO finsec_admin, finsec_auditor;

/*
 * A jsonb array of regular expressions (args.<key>) as one alternation,
 * or the default; NULL when an element is not a string or not a valid
 * regular expression (the caller says cannot_verify).
 */
CREATE FUNCTION finsec._compliance_pattern_arg(args jsonb, key text, dflt text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := args -> key;
	p text;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN dflt;
	END IF;
	IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0 OR jsonb_array_length(v) > 200
	   OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string' OR e #>> '{}' = '') THEN
		RETURN NULL;
	END IF;
	SELECT string_agg('(' || (e #>> '{}') || ')', '|') INTO p FROM jsonb_array_elements(v) e;
	IF octet_length(p) > 10000 THEN
		RETURN NULL;
	END IF;
	PERFORM '' ~* p;
	RETURN p;
EXCEPTION WHEN invalid_regular_expression OR program_limit_exceeded THEN
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_pattern_arg(jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_pattern_arg(jsonb, text, text) TO finsec_admin, finsec_auditor;

-- A positive number argument, or the default; NULL if not one.
CREATE FUNCTION finsec._compliance_number_arg(args jsonb, key text, dflt numeric, lo numeric, hi numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
			 WHEN args -> key IS NULL OR jsonb_typeof(args -> key) = 'null' THEN dflt
			 WHEN jsonb_typeof(args -> key) <> 'number' THEN NULL
			 WHEN (args ->> key)::numeric BETWEEN lo AND hi THEN (args ->> key)::numeric
		   END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_number_arg(jsonb, text, numeric, numeric, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_number_arg(jsonb, text, numeric, numeric, numeric) TO finsec_admin, finsec_auditor;

-- The default issuer prefixes and CVV-like names (both card checks use
-- them, so that they share one sample).
CREATE FUNCTION finsec._compliance_iin() RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '^(2[2-7]|3[0-9]|4|5[1-5]|6)'::text $$;
REVOKE ALL ON FUNCTION finsec._compliance_iin() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_iin() TO finsec_admin, finsec_auditor;
CREATE FUNCTION finsec._compliance_short_names() RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'cvv|cvn|cvc|csc|sec_?code|security_?code|verif|check_?code|card_?code|验证码|校验码'::text $$;
REVOKE ALL ON FUNCTION finsec._compliance_short_names() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_short_names() TO finsec_admin, finsec_auditor;

/*
 * card_numbers_plain (D1, D2, D3; 002 3.2.7): card or account numbers in
 * plain columns.  By name: a column of a user table (ordinary,
 * partitioned, materialised or foreign; a partition is reported through
 * its parent) of a plain type (text, varchar, bpchar, int8, numeric)
 * whose name matches args.name_patterns.  By value: the sample
 * (_compliance_data_sample): a column where at least args.min_hits
 * (default 3) and at least args.min_ratio (default 0.5) of the non-NULL
 * sampled values look like card numbers (13-19 digits, issuer prefix
 * args.iin_pattern, Luhn).  fail on either; otherwise cannot_verify when
 * a table could not be read, warn when the bound left tables unsampled,
 * pass.  Evidence: table.column, counts, thresholds; never a value.
 */
CREATE FUNCTION finsec._check_card_numbers_plain(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a jsonb := CASE WHEN jsonb_typeof(args) = 'object' THEN args ELSE '{}' END;
	names_re text;
	iin text;
	min_hits numeric;
	min_ratio numeric;
	b record;
	s jsonb;
	by_name jsonb;
	n_by_name integer;
	by_value jsonb;
	n_by_value integer;
BEGIN
	IF NOT has_function_privilege('finsec._compliance_pattern_arg(jsonb, text, text)', 'EXECUTE')
	   OR NOT has_function_privilege('finsec._compliance_user_columns()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec''s compliance helpers (finsec._compliance_*)',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	names_re := finsec._compliance_pattern_arg(a, 'name_patterns',
		'(^|_)(pan|card_?no|card_?num|card_?number|cardnumber|card_?nbr|acct_?no|acct_?num|account_?no|account_?num|account_?number|'
		'bank_?card|bank_?card_?no|bank_?acct|bank_?account|bank_?account_?no|primary_?account_?number)($|_)|卡号|账号|帐号|银行卡');
	iin := finsec._compliance_pattern_arg(a, 'iin_pattern', finsec._compliance_iin());
	min_hits := finsec._compliance_number_arg(a, 'min_hits', 3, 1, 1000000);
	min_ratio := finsec._compliance_number_arg(a, 'min_ratio', 0.5, 0, 1);
	IF names_re IS NULL OR iin IS NULL OR min_hits IS NULL OR min_ratio IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the clause''s arguments are not valid',
									   'needs', 'name_patterns and iin_pattern arrays of regular expressions, min_hits a number >= 1, min_ratio a number in [0, 1]');
		RETURN;
	END IF;
	IF NOT has_function_privilege('finsec.is_valid_bank_card(text)', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec.is_valid_bank_card(text), the Luhn check of sampled values',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	b := finsec._compliance_sample_bounds();

	SELECT count(*), coalesce(jsonb_agg(x.j ORDER BY x.t, x.c) FILTER (WHERE x.rn <= 100), '[]')
	  INTO n_by_name, by_name
	  FROM (SELECT format('%I.%I', u.nspname, u.relname) AS t, u.column_name AS c,
				   jsonb_build_object('column', format('%I.%I.%I', u.nspname, u.relname, u.column_name),
									  'type', format_type(u.atttypid, u.atttypmod)) AS j,
				   row_number() OVER (ORDER BY format('%I.%I', u.nspname, u.relname), u.column_name) AS rn
			  FROM finsec._compliance_user_columns() u
			 WHERE u.kind = 'plain' AND NOT u.relispartition
			   AND u.column_name IN (SELECT d.n FROM (SELECT DISTINCT a.attname AS n FROM pg_attribute a
															  WHERE a.attnum > 0 OFFSET 0) d
									 WHERE d.n OPERATOR(pg_catalog.~*) names_re)) x;

	-- the sample card_sensitive_data takes too (with its default
	-- arguments): one run of the sampler per statement for both
	s := finsec._compliance_data_sample_once(b.sample_rows, b.sample_tables, iin, finsec._compliance_short_names(), true);
	SELECT count(*), coalesce(jsonb_agg(x.j ORDER BY x.t, x.c) FILTER (WHERE x.rn <= 100), '[]')
	  INTO n_by_value, by_value
	  FROM (SELECT e ->> 0 AS t, e ->> 1 AS c,
				   jsonb_build_object('column', (e ->> 0) || '.' || (e ->> 1), 'card_numbers', (e ->> 3)::bigint,
									  'sampled', (e ->> 2)::bigint) AS j,
				   row_number() OVER (ORDER BY e ->> 0, e ->> 1) AS rn
			  FROM jsonb_array_elements(s -> 'columns') e
			 WHERE (e ->> 3)::bigint >= min_hits
			   AND (e ->> 3)::numeric >= min_ratio * (e ->> 2)::numeric) x;

	status := CASE WHEN n_by_name > 0 OR n_by_value > 0 THEN 'fail'
				   WHEN (s ->> 'tables_unreadable')::integer > 0 THEN 'cannot_verify'
				   WHEN (s ->> 'tables_not_sampled')::integer > 0 THEN 'warn'
				   ELSE 'pass' END;
	evidence := jsonb_build_object(
		'columns_by_name', n_by_name, 'named_columns', by_name,
		'columns_by_value', n_by_value, 'sampled_columns', by_value,
		'tables_sampled', s -> 'tables_sampled', 'tables_unreadable', s -> 'tables_unreadable',
		'unreadable', s -> 'unreadable', 'tables_not_sampled', s -> 'tables_not_sampled',
		'views_and_foreign_tables_not_read', s -> 'views_and_foreign_tables_not_read',
		'sample_rows', b.sample_rows, 'sample_tables', b.sample_tables,
		'min_hits', min_hits, 'min_ratio', min_ratio);
	IF status = 'cannot_verify' THEN
		evidence := evidence || jsonb_build_object(
			'reason', format('%s table(s) could not be sampled', s ->> 'tables_unreadable'),
			'needs', 'SELECT on every user table (and USAGE on its schema) for the caller, no row-level security applying to it');
	END IF;
END
$$;
COMMENT ON FUNCTION finsec._check_card_numbers_plain(jsonb) IS
	'compliance check card_numbers_plain: columns of plain types named or sampled like card numbers (Luhn); counts, never values';
REVOKE ALL ON FUNCTION finsec._check_card_numbers_plain(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_card_numbers_plain(jsonb) TO finsec_admin, finsec_auditor;

/*
 * card_sensitive_data (D1; 002 3.2.7): sensitive authentication data is
 * never stored, plain or enciphered.  By name: a column of a user table,
 * of any type, named like CVV/CVN2/CVC, track data, PIN or PIN block,
 * expiry (args.name_patterns).  By value: sampled text with track-2 data
 * (a 13-19 digit number, '=', 4 digits) in at least args.min_track_hits
 * values (default 1); a column named loosely like a security code
 * (args.short_name_patterns: sec_code, verification ...) whose sampled
 * values are 3 or 4 digits (min_hits, min_ratio as card_numbers_plain).
 */
CREATE FUNCTION finsec._check_card_sensitive_data(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a jsonb := CASE WHEN jsonb_typeof(args) = 'object' THEN args ELSE '{}' END;
	names_re text;
	short_re text;
	min_hits numeric;
	min_ratio numeric;
	min_track numeric;
	b record;
	s jsonb;
	by_name jsonb;
	n_by_name integer;
	by_value jsonb;
	n_by_value integer;
BEGIN
	IF NOT has_function_privilege('finsec._compliance_pattern_arg(jsonb, text, text)', 'EXECUTE')
	   OR NOT has_function_privilege('finsec._compliance_user_columns()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec''s compliance helpers (finsec._compliance_*)',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	names_re := finsec._compliance_pattern_arg(a, 'name_patterns',
		'(^|_)(cvv|cvv2|cvn|cvn2|cvc|cvc2|cav2|csc|pin|pins|pin_?code|pin_?block|pinblock|epin|'
		'track_?[123]|track_?data|trackdata|magstripe|mag_?stripe|'
		'expiry_?date|exp_?date|expdate|exp_?month|exp_?year|card_?exp|card_?expiry|valid_?thru|valid_?until|validthru)($|_)|'
		'磁道|有效期|安全码|卡密码|交易密码|支付密码|PIN码');
	short_re := finsec._compliance_pattern_arg(a, 'short_name_patterns', finsec._compliance_short_names());
	min_hits := finsec._compliance_number_arg(a, 'min_hits', 3, 1, 1000000);
	min_ratio := finsec._compliance_number_arg(a, 'min_ratio', 0.5, 0, 1);
	min_track := finsec._compliance_number_arg(a, 'min_track_hits', 1, 1, 1000000);
	IF names_re IS NULL OR short_re IS NULL OR min_hits IS NULL OR min_ratio IS NULL OR min_track IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the clause''s arguments are not valid',
									   'needs', 'name_patterns and short_name_patterns arrays of regular expressions, min_hits and min_track_hits numbers >= 1, min_ratio a number in [0, 1]');
		RETURN;
	END IF;
	IF NOT has_function_privilege('finsec.is_valid_bank_card(text)', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec.is_valid_bank_card(text), used in sampling',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	b := finsec._compliance_sample_bounds();

	SELECT count(*), coalesce(jsonb_agg(x.j ORDER BY x.t, x.c) FILTER (WHERE x.rn <= 100), '[]')
	  INTO n_by_name, by_name
	  FROM (SELECT format('%I.%I', u.nspname, u.relname) AS t, u.column_name AS c,
				   jsonb_build_object('column', format('%I.%I.%I', u.nspname, u.relname, u.column_name),
									  'type', format_type(u.atttypid, u.atttypmod)) AS j,
				   row_number() OVER (ORDER BY format('%I.%I', u.nspname, u.relname), u.column_name) AS rn
			  FROM finsec._compliance_user_columns() u
			 WHERE NOT u.relispartition
			   AND u.column_name IN (SELECT d.n FROM (SELECT DISTINCT a.attname AS n FROM pg_attribute a
															  WHERE a.attnum > 0 OFFSET 0) d
									 WHERE d.n OPERATOR(pg_catalog.~*) names_re)) x;

	s := finsec._compliance_data_sample_once(b.sample_rows, b.sample_tables, finsec._compliance_iin(), short_re, true);
	SELECT count(*), coalesce(jsonb_agg(x.j ORDER BY x.t, x.c) FILTER (WHERE x.rn <= 100), '[]')
	  INTO n_by_value, by_value
	  FROM (SELECT e ->> 0 AS t, e ->> 1 AS c,
				   jsonb_build_object('column', (e ->> 0) || '.' || (e ->> 1), 'track2_values', (e ->> 4)::bigint,
									  'short_digit_values', (e ->> 5)::bigint, 'sampled', (e ->> 2)::bigint) AS j,
				   row_number() OVER (ORDER BY e ->> 0, e ->> 1) AS rn
			  FROM jsonb_array_elements(s -> 'columns') e
			 WHERE (e ->> 4)::bigint >= min_track
				OR ((e ->> 5)::bigint >= min_hits AND (e ->> 5)::numeric >= min_ratio * (e ->> 2)::numeric)) x;

	status := CASE WHEN n_by_name > 0 OR n_by_value > 0 THEN 'fail'
				   WHEN (s ->> 'tables_unreadable')::integer > 0 THEN 'cannot_verify'
				   WHEN (s ->> 'tables_not_sampled')::integer > 0 THEN 'warn'
				   ELSE 'pass' END;
	evidence := jsonb_build_object(
		'columns_by_name', n_by_name, 'named_columns', by_name,
		'columns_by_value', n_by_value, 'sampled_columns', by_value,
		'tables_sampled', s -> 'tables_sampled', 'tables_unreadable', s -> 'tables_unreadable',
		'unreadable', s -> 'unreadable', 'tables_not_sampled', s -> 'tables_not_sampled',
		'views_and_foreign_tables_not_read', s -> 'views_and_foreign_tables_not_read',
		'sample_rows', b.sample_rows, 'sample_tables', b.sample_tables,
		'min_hits', min_hits, 'min_ratio', min_ratio, 'min_track_hits', min_track);
	IF status = 'cannot_verify' THEN
		evidence := evidence || jsonb_build_object(
			'reason', format('%s table(s) could not be sampled', s ->> 'tables_unreadable'),
			'needs', 'SELECT on every user table (and USAGE on its schema) for the caller, no row-level security applying to it');
	END IF;
END
$$;
COMMENT ON FUNCTION finsec._check_card_sensitive_data(jsonb) IS
	'compliance check card_sensitive_data: columns named like CVV, track data, PIN, expiry (any type), sampled track-2 data and CVV-like codes';
REVOKE ALL ON FUNCTION finsec._check_card_sensitive_data(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_card_sensitive_data(jsonb) TO finsec_admin, finsec_auditor;

/*
 * posted_tables_protected (L4, C6, D6): every table registered with
 * finsec limits, risk, monitor or credit holds posted transactions or
 * credit records and must be protect_table()'d (append-only,
 * hash-chained).  Protected: the table carries finsec's immutability
 * trigger (finsec_ledger_immutable executing finsec.ledger_immutable(),
 * not disabled) - pg_trigger, readable by everyone - and has a chain in
 * finsec.ledger_chain when the caller may read it.  The registries
 * need SELECT (finsec_admin, finsec_auditor, finsec_operator); without
 * it cannot_verify.  No registered table: out_of_scope.
 */
CREATE FUNCTION finsec._check_posted_tables_protected(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	reg record;
	missing text[] := '{}';
	rels oid[] := '{}';
	regs text[] := '{}';
	unprotected jsonb;
	n_unprotected integer;
	n_tables integer;
	chain_readable boolean := has_table_privilege('finsec.ledger_chain', 'SELECT');
	immutable_fn regprocedure := to_regprocedure('finsec.ledger_immutable()');
BEGIN
	FOR reg IN
		SELECT * FROM (VALUES ('limits', 'finsec.limit_table'), ('risk', 'finsec.risk_table'),
							  ('monitor', 'finsec.monitor_table'), ('credit', 'finsec.credit_table')) v(cap, tbl)
	LOOP
		IF to_regclass(reg.tbl) IS NULL THEN
			CONTINUE;
		END IF;
		IF NOT has_table_privilege(reg.tbl, 'SELECT') THEN
			missing := missing || reg.tbl;
			CONTINUE;
		END IF;
		EXECUTE format('SELECT array_agg(relid::oid) FROM %s', reg.tbl) INTO rels;
		IF rels IS NOT NULL THEN
			regs := regs || ARRAY(SELECT r::text || ':' || reg.cap FROM unnest(rels) r);
		END IF;
	END LOOP;
	IF cardinality(missing) > 0 THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not read the registries of posted tables: ' || array_to_string(missing, ', '),
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;

	WITH r AS (
		SELECT split_part(x, ':', 1)::oid AS relid, array_agg(DISTINCT split_part(x, ':', 2) ORDER BY split_part(x, ':', 2)) AS caps
		  FROM unnest(regs) x GROUP BY 1),
	j AS (
		SELECT r.relid, r.caps,
			   EXISTS (SELECT 1 FROM pg_trigger t
						WHERE t.tgrelid = r.relid AND t.tgname = 'finsec_ledger_immutable'
						  AND t.tgfoid = immutable_fn AND t.tgenabled <> 'D') AS has_trigger,
			   CASE WHEN chain_readable
					THEN EXISTS (SELECT 1 FROM finsec.ledger_chain c WHERE c.relid = r.relid) END AS has_chain
		  FROM r JOIN pg_class c ON c.oid = r.relid)
	SELECT count(*),
		   count(*) FILTER (WHERE NOT has_trigger OR has_chain IS FALSE),
		   coalesce(jsonb_agg(jsonb_build_object('table', relid::regclass::text, 'registered_with', to_jsonb(caps),
												 'immutability_trigger', has_trigger, 'chain', has_chain)
							  ORDER BY relid::regclass::text)
					FILTER (WHERE NOT has_trigger OR has_chain IS FALSE), '[]')
	  INTO n_tables, n_unprotected, unprotected
	  FROM j;

	IF n_tables = 0 THEN
		status := 'out_of_scope';
		evidence := jsonb_build_object('reason', 'no table is registered with finsec limits, risk, monitor or credit',
									   'registered_tables', 0);
		RETURN;
	END IF;
	status := CASE WHEN n_unprotected > 0 THEN 'fail' ELSE 'pass' END;
	evidence := jsonb_build_object('registered_tables', n_tables, 'unprotected_tables', n_unprotected,
								   'unprotected', unprotected, 'ledger_chain_read', chain_readable);
END
$$;
COMMENT ON FUNCTION finsec._check_posted_tables_protected(jsonb) IS
	'compliance check posted_tables_protected: tables registered with limits, risk, monitor or credit that are not protect_table()''d';
REVOKE ALL ON FUNCTION finsec._check_posted_tables_protected(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_posted_tables_protected(jsonb) TO finsec_admin, finsec_auditor;

/*
 * sensitive_columns_labelled (D4; 004 8.3.4 b enhanced): columns holding
 * personal or card data carry a finsec sensitivity label (their own, or
 * effectively through their table or the inheritance tree:
 * finsec._label_effective).  fail: a column of a finsec type for such
 * data (protected_*, bank_card, bank_account, cn_resident_id, uscc,
 * cn_mobile, directly, through a domain or as an array) without label.
 * warn: a column of a plain string type whose name looks personal
 * (args.name_patterns; the patterns of finsec.label_suggestions()) without
 * label.  Labelling a column 'public' dismisses it.  Ordinary,
 * partitioned, materialised and foreign tables (views carry no data); a
 * partition through its parent (labels count both ways).
 */
CREATE FUNCTION finsec._check_sensitive_columns_labelled(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a jsonb := CASE WHEN jsonb_typeof(args) = 'object' THEN args ELSE '{}' END;
	names_re text;
	n_typed integer;
	n_named integer;
	typed jsonb;
	named jsonb;
BEGIN
	IF NOT has_function_privilege('finsec._compliance_pattern_arg(jsonb, text, text)', 'EXECUTE')
	   OR NOT has_function_privilege('finsec._compliance_user_columns()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec''s compliance helpers (finsec._compliance_*)',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	names_re := finsec._compliance_pattern_arg(a, 'name_patterns',
		'(^|_)(id_?no|id_?card|id_?number|resident_?id|cert_?no)($|_)|身份证|证件号|'
		'(^|_)(phone|mobile|tel|telephone|cellphone)($|_)|手机|电话|(^|_)e_?mail($|_)|邮箱|'
		'(^|_)(address|addr)($|_)|地址|住址|(^|_)name$|姓名');
	IF names_re IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the clause''s arguments are not valid',
									   'needs', 'name_patterns an array of regular expressions');
		RETURN;
	END IF;
	IF to_regprocedure('finsec._label_effective(regclass, smallint)') IS NULL
	   OR NOT has_function_privilege('finsec._label_effective(regclass, smallint)', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec._label_effective(regclass, smallint), which reads the effective labels',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;

	WITH cand AS (
		SELECT u.relid, format('%I.%I', u.nspname, u.relname) AS table_name, u.column_name, u.attnum,
			   format_type(u.atttypid, u.atttypmod) AS type_name,
			   CASE WHEN u.kind = 'finsec' THEN 'type' ELSE 'name' END AS why
		  FROM finsec._compliance_user_columns() u
		  JOIN pg_type t ON t.oid = u.atttypid
		  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
		 WHERE NOT u.relispartition
		   AND (u.kind = 'finsec'
				OR (bt.typcategory = 'S'
					AND u.column_name IN (SELECT d.n FROM (SELECT DISTINCT a.attname AS n FROM pg_attribute a
																 WHERE a.attnum > 0 OFFSET 0) d
										WHERE d.n OPERATOR(pg_catalog.~*) names_re)))),
	unl AS (
		SELECT c.*, row_number() OVER (PARTITION BY c.why ORDER BY c.table_name, c.column_name) AS rn
		  FROM cand c
		 WHERE finsec._label_effective(c.relid::regclass, c.attnum) IS NULL)
	SELECT count(*) FILTER (WHERE why = 'type'), count(*) FILTER (WHERE why = 'name'),
		   coalesce(jsonb_agg(jsonb_build_object('column', table_name || '.' || quote_ident(column_name), 'type', type_name)
							  ORDER BY table_name, column_name) FILTER (WHERE why = 'type' AND rn <= 100), '[]'),
		   coalesce(jsonb_agg(jsonb_build_object('column', table_name || '.' || quote_ident(column_name), 'type', type_name)
							  ORDER BY table_name, column_name) FILTER (WHERE why = 'name' AND rn <= 100), '[]')
	  INTO n_typed, n_named, typed, named
	  FROM unl;

	status := CASE WHEN n_typed > 0 THEN 'fail' WHEN n_named > 0 THEN 'warn' ELSE 'pass' END;
	evidence := jsonb_build_object('unlabelled_typed_columns', n_typed, 'typed_columns', typed,
								   'unlabelled_named_columns', n_named, 'named_columns', named);
END
$$;
COMMENT ON FUNCTION finsec._check_sensitive_columns_labelled(jsonb) IS
	'compliance check sensitive_columns_labelled: columns of finsec''s personal-data types (fail) or named like personal data (warn) without a finsec label';
REVOKE ALL ON FUNCTION finsec._check_sensitive_columns_labelled(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_sensitive_columns_labelled(jsonb) TO finsec_admin, finsec_auditor;

/*
 * outbound_links (C7: 004 9.9; W8: 003 6.4.1.4.1, 004 7.5.6 f, 8.3.2 d):
 * every outbound link finsec can see (finsec.outbound_links(), which
 * also writes its ledger row with the counts) judged against
 * finsec.outbound_allow: a link not_allowed → fail; links finsec cannot
 * judge (unknown: program foreign tables, shell commands, publications,
 * capabilities of named roles) → warn; else pass.  The superuser's own
 * capabilities, unknown on every server, are counted (superuser_only)
 * but not judged.  args.scope 'credit' (C7): out_of_scope when
 * no credit table is registered.  Evidence: the links as
 * outbound_links() returns them (no password, no whole connection
 * string), at most 100 of each verdict.
 */
CREATE FUNCTION finsec._check_outbound_links(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a jsonb := CASE WHEN jsonb_typeof(args) = 'object' THEN args ELSE '{}' END;
	links jsonb;
	n_bad integer;
	n_unknown integer;
	n_su integer;
	n_all integer;
	n_credit bigint;
BEGIN
	IF a ->> 'scope' IS NOT NULL AND a ->> 'scope' <> 'credit' THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the clause''s arguments are not valid', 'needs', 'scope absent or ''credit''');
		RETURN;
	END IF;
	IF a ->> 'scope' = 'credit' THEN
		IF to_regclass('finsec.credit_table') IS NULL OR NOT has_table_privilege('finsec.credit_table', 'SELECT') THEN
			status := 'cannot_verify';
			evidence := jsonb_build_object('reason', 'the caller may not read finsec.credit_table (whether the credit capability is in use)',
										   'needs', 'membership of finsec_auditor or finsec_admin');
			RETURN;
		END IF;
		SELECT count(*) INTO n_credit FROM finsec.credit_table;
		IF n_credit = 0 THEN
			status := 'out_of_scope';
			evidence := jsonb_build_object('reason', 'no credit table is registered (finsec.register_credit_table)', 'credit_tables', 0);
			RETURN;
		END IF;
	END IF;
	IF to_regprocedure('finsec.outbound_links()') IS NULL
	   OR NOT has_function_privilege('finsec.outbound_links()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller may not execute finsec.outbound_links()',
									   'needs', 'membership of finsec_auditor or finsec_admin');
		RETURN;
	END IF;
	-- A superuser's own capabilities (COPY ... PROGRAM, dblink or foreign
	-- data wrappers usable by superusers only, untrusted languages) are
	-- listed as unknown by outbound_links() on every server: counted as
	-- superuser_only, not a warning.
	WITH l AS (
		SELECT l.*,
			   (l.verdict = 'unknown'
				AND ((l.kind = 'copy_program' AND l.detail LIKE 'superuser%')
					 OR (l.kind IN ('dblink', 'foreign_data_wrapper') AND l.detail LIKE '%: superusers only')
					 OR l.kind = 'language')) AS su
		  FROM finsec.outbound_links() l),
	o AS (
		SELECT l.*, row_number() OVER (PARTITION BY l.verdict, l.su ORDER BY l.kind, l.object) AS rn FROM l)
	SELECT count(*), count(*) FILTER (WHERE verdict = 'not_allowed'),
		   count(*) FILTER (WHERE verdict = 'unknown' AND NOT su), count(*) FILTER (WHERE su),
		   coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('kind', kind, 'object', object, 'host', host, 'port', port,
																   'region', region, 'verdict', verdict, 'detail', detail))
							  ORDER BY verdict DESC, kind, object) FILTER (WHERE verdict <> 'allowed' AND NOT su AND rn <= 100), '[]')
	  INTO n_all, n_bad, n_unknown, n_su, links
	  FROM o;
	status := CASE WHEN n_bad > 0 THEN 'fail' WHEN n_unknown > 0 THEN 'warn' ELSE 'pass' END;
	evidence := jsonb_build_object('links', n_all, 'not_allowed', n_bad, 'unknown', n_unknown, 'superuser_only', n_su,
								   'allowed', n_all - n_bad - n_unknown - n_su, 'judged', links);
	IF a ->> 'scope' = 'credit' THEN
		evidence := evidence || jsonb_build_object('credit_tables', n_credit);
	END IF;
END
$$;
COMMENT ON FUNCTION finsec._check_outbound_links(jsonb) IS
	'compliance check outbound_links: outbound links not on finsec.outbound_allow (fail) or not judged (warn); scope credit: only with a credit table';
REVOKE ALL ON FUNCTION finsec._check_outbound_links(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_outbound_links(jsonb) TO finsec_admin, finsec_auditor;

INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin) VALUES
	('card_numbers_plain', 'finsec._check_card_numbers_plain(jsonb)', '卡号明文存储', 'Card numbers stored in plain columns', true),
	('card_sensitive_data', 'finsec._check_card_sensitive_data(jsonb)', '敏感鉴别数据（CVN2、磁道、PIN、有效期）存储', 'Sensitive authentication data (CVN2, track, PIN, expiry) stored', true),
	('posted_tables_protected', 'finsec._check_posted_tables_protected(jsonb)', '交易表防篡改保护', 'Posted transaction tables protected (append-only, hash-chained)', true),
	('sensitive_columns_labelled', 'finsec._check_sensitive_columns_labelled(jsonb)', '敏感字段安全标记', 'Sensitive columns labelled', true),
	('outbound_links', 'finsec._check_outbound_links(jsonb)', '对外连接白名单', 'Outbound links on the allow-list', true);

/*
 * Which clauses the data checks answer.  The card checks sample tables on
 * every call, and compliance_check() calls a check once per clause it
 * maps: they map to the clauses that ask for exactly what they judge.
 */
INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin) VALUES
	-- D1, D2: no track data, CVN2, PIN or expiry; account numbers protected (002 3.2.7)
	('002:3.2.7', 'card_numbers_plain', '{}', true),
	('002:3.2.7', 'card_sensitive_data', '{}', true),
	-- D3: storage confidentiality of authentication and important business data (004 8.3.5 b)
	('004:8.3.5b', 'card_numbers_plain', '{}', true),
	-- L4: posted transactions never altered (001 5.2 b); C6: original data never altered
	-- (004 9.5); D6: integrity damage of stored data detected (004 8.3.5 a)
	('001:5.2b', 'posted_tables_protected', '{}', true),
	('004:9.5', 'posted_tables_protected', '{}', true),
	('004:8.3.5a', 'posted_tables_protected', '{}', true),
	-- D4: sensitivity labels on important information resources (004 8.3.4 b enhanced)
	('004:8.3.4b-enh', 'sensitive_columns_labelled', '{}', true),
	-- D3: storage confidentiality of credentials and important business data (004 8.3.5 a enhanced)
	('004:8.3.5a-enh', 'sensitive_columns_labelled', '{}', true),
	-- C7: no transfer abroad, where credit data is held (004 9.9)
	('004:9.9', 'outbound_links', '{"scope": "credit"}', true),
	-- W8: every connection to external systems authorised (003 6.4.1.4.1, 004 7.5.6 f, 8.3.2 d)
	('003:6.4.1.4.1', 'outbound_links', '{}', true),
	('004:7.5.6f', 'outbound_links', '{}', true),
	('004:8.3.2d', 'outbound_links', '{}', true);

-- (end of section 4)



-- ---------------------------------------------------------------------
-- 4b. Checks of durability and continuity; the backup register;
--     finsec.dr_level().
-- ---------------------------------------------------------------------

/*
 * The backup register (B2, B4, B5; docs/compliance.md): what
 * the backup tools and the operators say they did, one row per backup,
 * restore test and switchover drill.  Append-only (the ledger's immutable
 * triggers; a correction is a new row), each row also written to the
 * audit ledger by the function that records it, and dumped with the
 * database (pg_extension_config_dump).  The register is declared, not
 * observed: the checks say so in their evidence.
 */
CREATE TABLE finsec.backup_register (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind			text NOT NULL CHECK (kind IN ('full', 'incremental', 'differential', 'wal')),
	tool			text,
	label			text NOT NULL,
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz NOT NULL,
	size_bytes		bigint CHECK (size_bytes >= 0),
	location		text,			-- credentials in URLs redacted
	retention_until timestamptz,
	success			boolean NOT NULL,
	detail			jsonb CHECK (detail IS NULL OR jsonb_typeof(detail) = 'object'),
	recorded_by		name NOT NULL,
	recorded_at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	CHECK (finished_at >= started_at)
);
CREATE INDEX backup_register_kind_finished ON finsec.backup_register (kind, finished_at);
COMMENT ON TABLE finsec.backup_register IS
	'backups as recorded by finsec.record_backup (001 7.4 b, 004 8.3.5 c, 002 3.2.9); append-only, each row also in the audit ledger';
REVOKE ALL ON TABLE finsec.backup_register FROM PUBLIC;
GRANT SELECT ON TABLE finsec.backup_register TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.backup_register', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.backup_register_id_seq', '');
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.backup_register
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.backup_register
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.backup_register ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;

CREATE TABLE finsec.restore_test (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	backup_label	text,
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz NOT NULL,
	target			text,
	success			boolean NOT NULL,
	rto_seconds		numeric CHECK (rto_seconds >= 0),
	rpo_seconds		numeric CHECK (rpo_seconds >= 0),
	detail			jsonb CHECK (detail IS NULL OR jsonb_typeof(detail) = 'object'),
	recorded_by		name NOT NULL,
	recorded_at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	CHECK (finished_at >= started_at)
);
CREATE INDEX restore_test_finished ON finsec.restore_test (finished_at);
COMMENT ON TABLE finsec.restore_test IS
	'restore tests as recorded by finsec.record_restore_test (001 7.4 c, 004 7.5.11 enhanced b): measured recovery time and point; append-only, each row also in the audit ledger';
REVOKE ALL ON TABLE finsec.restore_test FROM PUBLIC;
GRANT SELECT ON TABLE finsec.restore_test TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.restore_test', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.restore_test_id_seq', '');
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.restore_test
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.restore_test
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.restore_test ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;

CREATE TABLE finsec.switchover_drill (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	from_node		text NOT NULL,
	to_node			text NOT NULL,
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz NOT NULL,
	success			boolean NOT NULL,
	rto_seconds		numeric CHECK (rto_seconds >= 0),
	detail			jsonb CHECK (detail IS NULL OR jsonb_typeof(detail) = 'object'),
	recorded_by		name NOT NULL,
	recorded_at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	CHECK (finished_at >= started_at)
);
CREATE INDEX switchover_drill_finished ON finsec.switchover_drill (finished_at);
COMMENT ON TABLE finsec.switchover_drill IS
	'switchover drills between production and backup as recorded by finsec.record_switchover_drill (001 7.5 b): measured recovery time; append-only, each row also in the audit ledger';
REVOKE ALL ON TABLE finsec.switchover_drill FROM PUBLIC;
GRANT SELECT ON TABLE finsec.switchover_drill TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.switchover_drill', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.switchover_drill_id_seq', '');
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.switchover_drill
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.switchover_drill
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.switchover_drill ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;

/*
 * Common validation of a register row's times and free-text fields
 * (S9Q30, S9Q32): finished not before started, neither later than now
 * plus five minutes of clock skew, nor before 2000; texts of at most 1000
 * characters, detail a jsonb object of at most 64 kB.  Past times are
 * allowed: a hook may record a backup after the fact, from the tool's own
 * report.
 */
CREATE FUNCTION finsec._backup_register_validate(what text, started timestamptz, finished timestamptz,
												 texts text[], detail jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t text;
BEGIN
	IF started IS NULL OR finished IS NULL THEN
		RAISE EXCEPTION 'a % needs started_at and finished_at', what
			USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Give both times, as the tool reports them.';
	END IF;
	IF finished < started THEN
		RAISE EXCEPTION 'a % cannot finish before it started', what
			USING ERRCODE = 'S9Q30',
			DETAIL = format('started_at %s, finished_at %s.', started, finished);
	END IF;
	IF finished > now() + interval '5 minutes' OR started > now() + interval '5 minutes' THEN
		RAISE EXCEPTION 'a % cannot be recorded in the future', what
			USING ERRCODE = 'S9Q30',
			DETAIL = format('finished_at %s is later than the server''s time %s plus five minutes of clock skew.', finished, now()),
			HINT = 'Check the clock of the host that runs the backup tool.';
	END IF;
	IF started < timestamptz '2000-01-01 00:00:00+00' THEN
		RAISE EXCEPTION 'a % cannot have started before 2000', what
			USING ERRCODE = 'S9Q30',
			DETAIL = format('started_at %s.', started);
	END IF;
	FOREACH t IN ARRAY coalesce(texts, '{}'::text[]) LOOP
		IF t IS NOT NULL AND length(t) > 1000 THEN
			RAISE EXCEPTION 'a text argument of a % is longer than 1000 characters', what
				USING ERRCODE = 'S9Q32';
		END IF;
	END LOOP;
	IF detail IS NOT NULL AND (jsonb_typeof(detail) <> 'object' OR octet_length(detail::text) > 65536) THEN
		RAISE EXCEPTION 'the detail of a % must be a jsonb object of at most 64 kB', what
			USING ERRCODE = 'S9Q32';
	END IF;
END
$$;
COMMENT ON FUNCTION finsec._backup_register_validate(text, timestamptz, timestamptz, text[], jsonb) IS
	'validation shared by record_backup, record_restore_test and record_switchover_drill';
REVOKE ALL ON FUNCTION finsec._backup_register_validate(text, timestamptz, timestamptz, text[], jsonb) FROM PUBLIC;

/*
 * A location with its credentials removed: the password of a URL's user
 * information (scheme://user:password@host, up to the last '@' of the
 * word: a password may hold '/' or '@'), and the values of query or
 * option parameters named like secrets (password, secret, token, key,
 * signature, credential).
 */
CREATE FUNCTION finsec._redact_location(location text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
SELECT regexp_replace(
		 regexp_replace(location, '(://[^/@:\s]*):\S*@', '\1:***@', 'g'),
		 '((?:^|[?&;\s])[A-Za-z0-9_.-]*(?:pass|secret|token|key|signature|credential)[A-Za-z0-9_.-]*=)[^&;\s]*',
		 '\1***', 'gi')
$$;
COMMENT ON FUNCTION finsec._redact_location(text) IS
	'a backup location with the credentials of URLs and secret-named parameters replaced by ***';
REVOKE ALL ON FUNCTION finsec._redact_location(text) FROM PUBLIC;

/*
 * Record a backup (a backup tool's hook or an operator).  SECURITY DEFINER:
 * the register is append-only and only these functions write it; granted
 * to finsec_operator and finsec_admin (a dedicated backup login role is a
 * member of finsec_operator, or is granted EXECUTE on this function alone).
 * Returns the new row's id.
 */
CREATE FUNCTION finsec.record_backup(
	kind text,
	label text,
	started_at timestamptz,
	finished_at timestamptz,
	success boolean DEFAULT true,
	tool text DEFAULT NULL,
	size_bytes bigint DEFAULT NULL,
	location text DEFAULT NULL,
	retention_until timestamptz DEFAULT NULL,
	detail jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	new_id bigint;
	loc text;
BEGIN
	IF kind IS NULL OR label IS NULL OR success IS NULL THEN
		RAISE EXCEPTION 'a backup needs a kind, a label and whether it succeeded'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF kind NOT IN ('full', 'incremental', 'differential', 'wal') THEN
		RAISE EXCEPTION 'unknown backup kind "%"', left(kind, 40)
			USING ERRCODE = 'S9Q31',
			HINT = 'A backup kind is full, incremental, differential or wal.';
	END IF;
	IF btrim(label) = '' THEN
		RAISE EXCEPTION 'a backup needs a non-empty label' USING ERRCODE = 'S9Q32';
	END IF;
	IF size_bytes < 0 THEN
		RAISE EXCEPTION 'a backup''s size cannot be negative' USING ERRCODE = 'S9Q32';
	END IF;
	PERFORM finsec._backup_register_validate('backup', started_at, finished_at,
											 ARRAY[label, tool, location], detail);
	IF retention_until < finished_at THEN
		RAISE EXCEPTION 'a backup''s retention cannot end before the backup finished'
			USING ERRCODE = 'S9Q30',
			DETAIL = format('finished_at %s, retention_until %s.', finished_at, retention_until);
	END IF;
	loc := finsec._redact_location(location);
	INSERT INTO finsec.backup_register (kind, tool, label, started_at, finished_at, size_bytes,
										location, retention_until, success, detail, recorded_by)
	VALUES (kind, tool, label, started_at, finished_at, size_bytes, loc, retention_until, success,
			detail, session_user)
	RETURNING id INTO new_id;
	PERFORM finsec.audit_event('continuity.backup', 'backup_register:' || new_id, 'record', success,
							   'backup recorded in the backup register',
							   jsonb_build_object('id', new_id, 'kind', kind, 'tool', tool, 'label', label,
												  'started_at', started_at, 'finished_at', finished_at,
												  'size_bytes', size_bytes, 'location', loc,
												  'retention_until', retention_until, 'success', success));
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION finsec.record_backup(text, text, timestamptz, timestamptz, boolean, text, bigint, text, timestamptz, jsonb) IS
	'record a backup in finsec.backup_register (append-only; credentials in the location redacted); audited';
REVOKE ALL ON FUNCTION finsec.record_backup(text, text, timestamptz, timestamptz, boolean, text, bigint, text, timestamptz, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.record_backup(text, text, timestamptz, timestamptz, boolean, text, bigint, text, timestamptz, jsonb)
	TO finsec_operator, finsec_admin;

/*
 * Record a restore test: rto_seconds defaults to the test's duration
 * (finished_at - started_at), the time the service would have been
 * restored in.
 */
CREATE FUNCTION finsec.record_restore_test(
	started_at timestamptz,
	finished_at timestamptz,
	success boolean,
	backup_label text DEFAULT NULL,
	target text DEFAULT NULL,
	rto_seconds numeric DEFAULT NULL,
	rpo_seconds numeric DEFAULT NULL,
	detail jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	new_id bigint;
	rto numeric;
BEGIN
	IF success IS NULL THEN
		RAISE EXCEPTION 'a restore test needs whether it succeeded'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM finsec._backup_register_validate('restore test', started_at, finished_at,
											 ARRAY[backup_label, target], detail);
	IF rto_seconds < 0 OR rpo_seconds < 0 OR rto_seconds IN ('NaN', 'Infinity') OR rpo_seconds IN ('NaN', 'Infinity') THEN
		RAISE EXCEPTION 'a restore test''s recovery time and point are non-negative numbers of seconds'
			USING ERRCODE = 'S9Q32';
	END IF;
	rto := coalesce(rto_seconds, round(extract(epoch FROM finished_at - started_at), 3));
	INSERT INTO finsec.restore_test (backup_label, started_at, finished_at, target, success,
									 rto_seconds, rpo_seconds, detail, recorded_by)
	VALUES (backup_label, started_at, finished_at, target, success, rto, rpo_seconds, detail, session_user)
	RETURNING id INTO new_id;
	PERFORM finsec.audit_event('continuity.restore_test', 'restore_test:' || new_id, 'record', success,
							   'restore test recorded in the backup register',
							   jsonb_build_object('id', new_id, 'backup_label', backup_label, 'target', target,
												  'started_at', started_at, 'finished_at', finished_at,
												  'rto_seconds', rto, 'rpo_seconds', rpo_seconds, 'success', success));
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION finsec.record_restore_test(timestamptz, timestamptz, boolean, text, text, numeric, numeric, jsonb) IS
	'record a restore test in finsec.restore_test (append-only); audited';
REVOKE ALL ON FUNCTION finsec.record_restore_test(timestamptz, timestamptz, boolean, text, text, numeric, numeric, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.record_restore_test(timestamptz, timestamptz, boolean, text, text, numeric, numeric, jsonb)
	TO finsec_operator, finsec_admin;

/* Record a switchover drill; rto_seconds defaults to its duration. */
CREATE FUNCTION finsec.record_switchover_drill(
	from_node text,
	to_node text,
	started_at timestamptz,
	finished_at timestamptz,
	success boolean,
	rto_seconds numeric DEFAULT NULL,
	detail jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	new_id bigint;
	rto numeric;
BEGIN
	IF from_node IS NULL OR to_node IS NULL OR success IS NULL THEN
		RAISE EXCEPTION 'a switchover drill needs the node it left, the node it moved to and whether it succeeded'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF btrim(from_node) = '' OR btrim(to_node) = '' THEN
		RAISE EXCEPTION 'a switchover drill needs non-empty node names' USING ERRCODE = 'S9Q32';
	END IF;
	PERFORM finsec._backup_register_validate('switchover drill', started_at, finished_at,
											 ARRAY[from_node, to_node], detail);
	IF rto_seconds < 0 OR rto_seconds IN ('NaN', 'Infinity') THEN
		RAISE EXCEPTION 'a switchover drill''s recovery time is a non-negative number of seconds'
			USING ERRCODE = 'S9Q32';
	END IF;
	rto := coalesce(rto_seconds, round(extract(epoch FROM finished_at - started_at), 3));
	INSERT INTO finsec.switchover_drill (from_node, to_node, started_at, finished_at, success,
										 rto_seconds, detail, recorded_by)
	VALUES (from_node, to_node, started_at, finished_at, success, rto, detail, session_user)
	RETURNING id INTO new_id;
	PERFORM finsec.audit_event('continuity.switchover_drill', 'switchover_drill:' || new_id, 'record', success,
							   'switchover drill recorded in the backup register',
							   jsonb_build_object('id', new_id, 'from_node', from_node, 'to_node', to_node,
												  'started_at', started_at, 'finished_at', finished_at,
												  'rto_seconds', rto, 'success', success));
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION finsec.record_switchover_drill(text, text, timestamptz, timestamptz, boolean, numeric, jsonb) IS
	'record a switchover drill in finsec.switchover_drill (append-only); audited';
REVOKE ALL ON FUNCTION finsec.record_switchover_drill(text, text, timestamptz, timestamptz, boolean, numeric, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.record_switchover_drill(text, text, timestamptz, timestamptz, boolean, numeric, jsonb)
	TO finsec_operator, finsec_admin;

/*
 * The replication facts an auditor needs and cannot read itself (the
 * state columns of pg_stat_replication and pg_stat_wal_receiver are
 * visible only to superusers and pg_read_all_stats): SECURITY DEFINER,
 * reads only statistics views, returns no connection string (so no
 * password), granted to finsec_admin and finsec_auditor.
 */
CREATE FUNCTION finsec._continuity_facts()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
SELECT jsonb_build_object(
	'in_recovery', pg_is_in_recovery(),
	'senders', coalesce((
		SELECT jsonb_agg(jsonb_build_object(
				'application_name', quote_ident(r.application_name),
				'state', r.state,
				'sync_state', r.sync_state,
				'sync_priority', r.sync_priority,
				'client', CASE WHEN r.client_addr IS NULL THEN 'local socket'
							   WHEN r.client_addr << inet '127.0.0.0/8' OR r.client_addr = inet '::1' THEN 'loopback'
							   ELSE host(r.client_addr) END,
				'write_lag_seconds', round(extract(epoch FROM r.write_lag), 3),
				'flush_lag_seconds', round(extract(epoch FROM r.flush_lag), 3),
				'replay_lag_seconds', round(extract(epoch FROM r.replay_lag), 3))
			ORDER BY r.application_name, r.pid)
		FROM pg_stat_replication r), '[]'::jsonb),
	'receiver', (
		SELECT jsonb_build_object('status', w.status, 'sender_host', w.sender_host,
								  'sender_port', w.sender_port, 'slot_name', w.slot_name,
								  'last_msg_receipt_time', w.last_msg_receipt_time)
		FROM pg_stat_wal_receiver w LIMIT 1))
$$;
COMMENT ON FUNCTION finsec._continuity_facts() IS
	'replication state for the continuity checks (walsenders and the WAL receiver, no connection strings)';
REVOKE ALL ON FUNCTION finsec._continuity_facts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._continuity_facts() TO finsec_admin, finsec_auditor;

/*
 * A setting as the server sets it for new sessions (pg_settings.reset_val:
 * the configuration file, ALTER SYSTEM, the database's and the caller's
 * role's settings), not a SET the caller made in its session.
 */
CREATE FUNCTION finsec._server_setting(name text)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
SELECT reset_val FROM pg_settings WHERE pg_settings.name = _server_setting.name
$$;
REVOKE ALL ON FUNCTION finsec._server_setting(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._server_setting(text) TO finsec_admin, finsec_auditor;

/* fsync (D13): on, or data is lost at a crash. */
CREATE FUNCTION finsec._check_fsync(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE WHEN finsec._server_setting('fsync') = 'on' THEN 'pass' ELSE 'fail' END,
	   jsonb_build_object('setting', 'fsync', 'value', finsec._server_setting('fsync'), 'required', 'on')
$$;

/* full_page_writes (D13): on, or a torn page is not repaired after a crash. */
CREATE FUNCTION finsec._check_full_page_writes(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE WHEN finsec._server_setting('full_page_writes') = 'on' THEN 'pass' ELSE 'fail' END,
	   jsonb_build_object('setting', 'full_page_writes', 'value', finsec._server_setting('full_page_writes'),
						  'required', 'on')
$$;

/* data_checksums (D13): corruption on disk is detected, not read as data. */
CREATE FUNCTION finsec._check_data_checksums(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE WHEN current_setting('data_checksums') = 'on' THEN 'pass' ELSE 'fail' END,
	   jsonb_build_object('setting', 'data_checksums', 'value', current_setting('data_checksums'),
						  'required', 'on',
						  'remedy', 'pg_checksums --enable on the stopped cluster, or initdb --data-checksums')
$$;

/*
 * synchronous_commit (D13): the server's value and every database or role
 * setting that overrides it (pg_db_role_setting, readable by all) must be
 * on, remote_write or remote_apply; off loses committed transactions at a
 * crash, local does not wait for the synchronous standbys.
 */
CREATE FUNCTION finsec._check_synchronous_commit(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	server_value text;
	overrides jsonb;
BEGIN
	SELECT reset_val INTO server_value FROM pg_settings WHERE name = 'synchronous_commit';
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'database', CASE WHEN d.setdatabase = 0 THEN NULL ELSE quote_ident(db.datname) END,
			'role', CASE WHEN d.setrole = 0 THEN NULL ELSE quote_ident(r.rolname) END,
			'value', split_part(c, '=', 2)) ORDER BY db.datname, r.rolname), '[]'::jsonb)
	  INTO overrides
	  FROM pg_db_role_setting d
	  CROSS JOIN LATERAL unnest(d.setconfig) c
	  LEFT JOIN pg_database db ON db.oid = d.setdatabase
	  LEFT JOIN pg_roles r ON r.oid = d.setrole
	 WHERE split_part(c, '=', 1) = 'synchronous_commit'
	   AND split_part(c, '=', 2) NOT IN ('on', 'remote_write', 'remote_apply', 'true', 'yes', '1');
	status := CASE WHEN server_value IN ('on', 'remote_write', 'remote_apply') AND overrides = '[]'::jsonb
				   THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('setting', 'synchronous_commit', 'value', server_value,
								   'allowed', jsonb_build_array('on', 'remote_write', 'remote_apply'),
								   'overrides_not_allowed', overrides,
								   'synchronous_standby_names', current_setting('synchronous_standby_names'));
END
$$;

/*
 * WAL archiving (B2, B6): archive_mode on (or always), an archive_command
 * or archive_library set, and pg_stat_archiver (readable by every role)
 * showing no failure newer than the last success and no completed segment
 * waiting longer than args.max_lag_seconds (default 3600): the last
 * success is that recent, or nothing but the segment being written is
 * pending.  On a standby with archive_mode on (not always) nothing is
 * archived there: out_of_scope.  The command itself is not shown (it may
 * hold credentials); only its program's name.
 */
CREATE FUNCTION finsec._check_wal_archiving(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	max_lag numeric := coalesce((args ->> 'max_lag_seconds')::numeric, 3600);
	mode text := current_setting('archive_mode');
	cmd text := current_setting('archive_command');
	lib text := current_setting('archive_library');
	a record;
	segs_per_id numeric := 4294967296 / pg_size_bytes(current_setting('wal_segment_size'));
	cur_seg numeric;
	arch_seg numeric;
	pending numeric;
	age numeric;
	problems text[] := '{}';
BEGIN
	SELECT * INTO a FROM pg_stat_archiver;
	evidence := jsonb_build_object('archive_mode', mode,
		'archive_command_set', cmd NOT IN ('', '(disabled)'),
		'archive_program', CASE WHEN cmd NOT IN ('', '(disabled)')
								THEN regexp_replace(split_part(btrim(cmd), ' ', 1), '^.*/', '') END,
		'archive_library', NULLIF(lib, ''),
		'archive_timeout_seconds', extract(epoch FROM current_setting('archive_timeout')::interval)::bigint,
		'archived_count', a.archived_count, 'last_archived_wal', a.last_archived_wal,
		'last_archived_time', a.last_archived_time, 'failed_count', a.failed_count,
		'last_failed_wal', a.last_failed_wal, 'last_failed_time', a.last_failed_time,
		'max_lag_seconds', max_lag);
	IF pg_is_in_recovery() AND mode <> 'always' THEN
		status := 'out_of_scope';
		evidence := evidence || jsonb_build_object('in_recovery', true,
			'note', 'this server is a standby: with archive_mode on, the primary archives; run the check there');
		RETURN;
	END IF;
	IF mode NOT IN ('on', 'always') THEN
		problems := problems || 'archive_mode is off'::text;
	END IF;
	IF cmd IN ('', '(disabled)') AND lib = '' THEN
		problems := problems || 'neither archive_command nor archive_library is set'::text;
	END IF;
	IF a.last_failed_time IS NOT NULL
	   AND (a.last_archived_time IS NULL OR a.last_failed_time > a.last_archived_time) THEN
		problems := problems || format('the last archiving attempt failed (%s at %s)',
									   a.last_failed_wal, a.last_failed_time);
	END IF;
	IF NOT pg_is_in_recovery() THEN
		cur_seg := ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 9, 8))::bit(32)::bigint * segs_per_id
				   + ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 17, 8))::bit(32)::bigint;
		IF a.last_archived_wal ~ '^[0-9A-F]{24}$' THEN
			arch_seg := ('x' || substr(a.last_archived_wal, 9, 8))::bit(32)::bigint * segs_per_id
						+ ('x' || substr(a.last_archived_wal, 17, 8))::bit(32)::bigint;
			pending := greatest(cur_seg - arch_seg - 1, 0);
		END IF;
		age := round(extract(epoch FROM now() - a.last_archived_time), 3);
		evidence := evidence || jsonb_build_object('segments_pending', pending, 'last_archived_age_seconds', age);
		IF mode IN ('on', 'always') AND (a.last_archived_time IS NULL OR (age > max_lag AND coalesce(pending, 1) > 0)) THEN
			problems := problems || CASE WHEN a.last_archived_time IS NULL
										 THEN 'no WAL segment has been archived since the statistics were reset'
										 ELSE format('the last segment was archived %s seconds ago (more than %s) and %s segments are waiting',
													 age, max_lag, coalesce(pending::text, 'some')) END;
		END IF;
	END IF;
	status := CASE WHEN cardinality(problems) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := evidence || jsonb_build_object('problems', to_jsonb(problems));
END
$$;

/*
 * Reading the register: the checks run as their caller, who needs SELECT
 * on it (finsec_admin, finsec_auditor, finsec_operator have it).
 */
CREATE FUNCTION finsec._continuity_cannot_read(tbl text)
RETURNS jsonb
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
SELECT CASE WHEN has_table_privilege(format('finsec.%I', tbl), 'SELECT') THEN NULL
			ELSE jsonb_build_object('reason', format('the caller cannot read finsec.%s', tbl),
									'needs', format('SELECT on finsec.%s (finsec_auditor or finsec_admin)', tbl)) END
$$;
REVOKE ALL ON FUNCTION finsec._continuity_cannot_read(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._continuity_cannot_read(text) TO finsec_admin, finsec_auditor;

/*
 * Backups on schedule (B2; 004 8.3.5 c: daily incremental, weekly full): a
 * successful full backup finished within args.full_days (7) and a
 * successful full, incremental or differential one within args.incr_days
 * (1), in the register (declared by the tools' hooks).
 */
CREATE FUNCTION finsec._check_backup_schedule(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	full_days numeric := coalesce((args ->> 'full_days')::numeric, 7);
	incr_days numeric := coalesce((args ->> 'incr_days')::numeric, 1);
	last_full timestamptz;
	last_any timestamptz;
	last_failed timestamptz;
	problems text[] := '{}';
BEGIN
	evidence := finsec._continuity_cannot_read('backup_register');
	IF evidence IS NOT NULL THEN
		status := 'cannot_verify';
		RETURN;
	END IF;
	SELECT max(finished_at) FILTER (WHERE kind = 'full' AND success),
		   max(finished_at) FILTER (WHERE kind IN ('full', 'incremental', 'differential') AND success),
		   max(finished_at) FILTER (WHERE NOT success)
	  INTO last_full, last_any, last_failed
	  FROM finsec.backup_register;
	IF last_full IS NULL OR last_full < now() - full_days * interval '1 day' THEN
		problems := problems || format('no successful full backup in the last %s days', full_days);
	END IF;
	IF last_any IS NULL OR last_any < now() - incr_days * interval '1 day' THEN
		problems := problems || format('no successful incremental or full backup in the last %s days', incr_days);
	END IF;
	status := CASE WHEN cardinality(problems) = 0 THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('source', 'finsec.backup_register (declared by the backup tool or operator)',
		'last_full_finished_at', last_full, 'last_backup_finished_at', last_any,
		'last_failed_finished_at', last_failed,
		'full_days', full_days, 'incr_days', incr_days, 'problems', to_jsonb(problems));
END
$$;

/*
 * Whether a restore test proves anything: it restored a successful backup
 * of the register (by its label) that had finished before the test began.
 * restore_tested and dr_level count only such tests.
 */
CREATE FUNCTION finsec._restore_of_recorded_backup(backup_label text, started_at timestamptz)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT EXISTS (SELECT 1 FROM finsec.backup_register b
					WHERE b.label = $1 AND b.success AND b.finished_at <= $2)
$$;
REVOKE ALL ON FUNCTION finsec._restore_of_recorded_backup(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._restore_of_recorded_backup(text, timestamptz) TO finsec_admin, finsec_auditor;

/*
 * The newest successful row of a register table (restore_test,
 * switchover_drill) finished within days: pass, else fail; cannot_verify
 * for a caller who cannot read it.  Evidence: the row's facts, and the
 * failures within the window.  tbl is one of finsec's own table names,
 * given by the two checks below.
 */
CREATE FUNCTION finsec._continuity_last_success(tbl text, days numeric, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	last jsonb;
	failures bigint;
	unmatched bigint;
BEGIN
	IF tbl IS NULL OR tbl NOT IN ('restore_test', 'switchover_drill') OR days IS NULL THEN
		RAISE EXCEPTION 'finsec._continuity_last_success needs restore_test or switchover_drill and a number of days'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	evidence := finsec._continuity_cannot_read(tbl);
	IF evidence IS NOT NULL THEN
		status := 'cannot_verify';
		RETURN;
	END IF;
	IF tbl = 'restore_test' THEN
		-- A restore test counts only as the restore of a successful backup
		-- in the register that had finished before the test began.
		evidence := finsec._continuity_cannot_read('backup_register');
		IF evidence IS NOT NULL THEN
			status := 'cannot_verify';
			RETURN;
		END IF;
		SELECT to_jsonb(t) INTO last
		  FROM finsec.restore_test t
		 WHERE t.success
		   AND finsec._restore_of_recorded_backup(t.backup_label, t.started_at)
		 ORDER BY t.finished_at DESC, t.id DESC LIMIT 1;
		SELECT count(*) INTO unmatched
		  FROM finsec.restore_test t
		 WHERE t.success AND t.finished_at >= now() - days * interval '1 day'
		   AND NOT finsec._restore_of_recorded_backup(t.backup_label, t.started_at);
	ELSE
		EXECUTE format('SELECT to_jsonb(t) FROM finsec.%I t WHERE success ORDER BY finished_at DESC, id DESC LIMIT 1', tbl)
		   INTO last;
	END IF;
	EXECUTE format('SELECT count(*) FROM finsec.%I WHERE NOT success AND finished_at >= now() - $1 * interval ''1 day''', tbl)
	   INTO failures USING days;
	status := CASE WHEN (last ->> 'finished_at')::timestamptz >= now() - days * interval '1 day' THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('source', format('finsec.%s (declared)', tbl), 'days', days,
								   'last_success_finished_at', last -> 'finished_at',
								   'failures_within_days', failures)
		|| CASE WHEN tbl = 'restore_test'
				THEN jsonb_build_object('tests_of_no_recorded_backup', unmatched) ELSE '{}' END
		|| coalesce(last - 'id' - 'started_at' - 'finished_at' - 'success' - 'detail' - 'recorded_by' - 'recorded_at', '{}');
END
$$;
REVOKE ALL ON FUNCTION finsec._continuity_last_success(text, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._continuity_last_success(text, numeric) TO finsec_admin, finsec_auditor;

/*
 * A successful restore test within args.days (92: a quarter; 001 7.4 c),
 * of a successful backup of the register that finished before the test.
 */
CREATE FUNCTION finsec._check_restore_tested(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
SELECT * FROM finsec._continuity_last_success('restore_test', coalesce((args ->> 'days')::numeric, 92))
$$;

/*
 * A successful switchover drill within args.days (366; 001 7.5 b).  The
 * evidence adds the cluster's current timeline (observed: each promotion
 * starts a new one), for comparing with the drills recorded.
 */
CREATE FUNCTION finsec._check_switchover_drilled(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
SELECT l.status,
	   CASE WHEN l.status = 'cannot_verify' THEN l.evidence
			ELSE l.evidence || jsonb_build_object('timeline_id', (SELECT timeline_id FROM pg_control_checkpoint())) END
  FROM finsec._continuity_last_success('switchover_drill', coalesce((args ->> 'days')::numeric, 366)) l
$$;

/*
 * The replication facts, or NULL when the caller cannot have them (then
 * the check says cannot_verify).
 */
CREATE FUNCTION finsec._continuity_facts_or_null()
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF has_function_privilege('finsec._continuity_facts()', 'EXECUTE') THEN
		RETURN finsec._continuity_facts();
	END IF;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec._continuity_facts_or_null() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._continuity_facts_or_null() TO finsec_admin, finsec_auditor;

/*
 * At least args.min (1) standby streaming from this server (B3; 001 7.3 d,
 * 002 3.2.9), observed in pg_stat_replication.  On a standby: warn, saying
 * this server is itself a standby and its WAL receiver's state (the
 * primary's standbys are counted on the primary).
 */
CREATE FUNCTION finsec._check_standby_present(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	min_standbys int := coalesce((args ->> 'min')::int, 1);
	f jsonb := finsec._continuity_facts_or_null();
	streaming int;
BEGIN
	IF f IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot read the replication state',
									   'needs', 'EXECUTE on finsec._continuity_facts() (finsec_auditor or finsec_admin)');
		RETURN;
	END IF;
	IF (f ->> 'in_recovery')::boolean THEN
		status := 'warn';
		evidence := jsonb_build_object('in_recovery', true, 'receiver', f -> 'receiver',
			'note', 'this server is itself a standby; count the standbys on the primary');
		RETURN;
	END IF;
	SELECT count(*) INTO streaming FROM jsonb_array_elements(f -> 'senders') s WHERE s ->> 'state' = 'streaming';
	status := CASE WHEN streaming >= min_standbys THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('streaming_standbys', streaming, 'min', min_standbys,
								   'senders', f -> 'senders', 'source', 'pg_stat_replication (observed)');
END
$$;

/*
 * Real-time local and off-site backup (B6; 004 8.3.5 enhanced b): a
 * standby streaming from another host is real-time and off-host: pass.
 * Working WAL archiving alone is real-time but where its archive lies is
 * not observable (the command's destination): warn, saying so.  Neither:
 * fail.
 */
CREATE FUNCTION finsec._check_realtime_offsite_backup(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f jsonb := finsec._continuity_facts_or_null();
	remote int;
	streaming int;
	arch record;
BEGIN
	IF f IS NULL THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot read the replication state',
									   'needs', 'EXECUTE on finsec._continuity_facts() (finsec_auditor or finsec_admin)');
		RETURN;
	END IF;
	SELECT count(*) FILTER (WHERE s ->> 'client' NOT IN ('local socket', 'loopback')), count(*)
	  INTO remote, streaming
	  FROM jsonb_array_elements(f -> 'senders') s WHERE s ->> 'state' = 'streaming';
	SELECT * INTO arch FROM finsec._check_wal_archiving(args);
	evidence := jsonb_build_object('streaming_standbys', streaming, 'remote_streaming_standbys', remote,
								   'wal_archiving', arch.status, 'in_recovery', f -> 'in_recovery');
	IF (f ->> 'in_recovery')::boolean THEN
		status := 'warn';
		evidence := evidence || jsonb_build_object('note', 'this server is a standby; run the check on the primary');
	ELSIF remote > 0 THEN
		status := 'pass';
	ELSIF arch.status = 'pass' THEN
		status := 'warn';
		evidence := evidence || jsonb_build_object('note',
			'WAL archiving works, but whether its archive is on another host is not observable from the database; no standby streams from another host');
	ELSE
		status := 'fail';
		evidence := evidence || jsonb_build_object('note',
			'neither a standby streaming from another host nor working WAL archiving');
	END IF;
END
$$;

/*
 * What finsec.dr_level() judges, observed, recorded and declared, as one
 * jsonb object (docs/compliance.md#dr-level).
 */
CREATE FUNCTION finsec._dr_facts()
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f jsonb := finsec._continuity_facts_or_null();
	can_register boolean := has_table_privilege('finsec.backup_register', 'SELECT')
		AND has_table_privilege('finsec.restore_test', 'SELECT')
		AND has_table_privilege('finsec.switchover_drill', 'SELECT');
	r jsonb := '{}';
	ssn text := current_setting('synchronous_standby_names');
	m text[];
	method text;
	num_sync int;
	sc text := finsec._server_setting('synchronous_commit');
	arch record;
	atimeout numeric := extract(epoch FROM current_setting('archive_timeout')::interval)::bigint;
	overrides int;
BEGIN
	r := jsonb_build_object('now', now(), 'replication_visible', f IS NOT NULL, 'register_visible', can_register,
							'in_recovery', pg_is_in_recovery());
	IF can_register THEN
		r := r || jsonb_build_object(
			'last_full_backup_at', (SELECT max(finished_at) FROM finsec.backup_register WHERE success AND kind = 'full'),
			'last_backup_at', (SELECT max(finished_at) FROM finsec.backup_register WHERE success),
			-- the worst loss by backups alone: the longest gap between the successful
			-- backups of the last 7 days (from the last one before them) and since the
			-- newest; unknown without a backup older than 7 days (a history shorter
			-- than the window says nothing of the schedule)
			'backup_rpo_seconds', (SELECT round(extract(epoch FROM greatest(max(gap), now() - max(finished_at))), 3)
									 FROM (SELECT finished_at, finished_at - lag(finished_at) OVER (ORDER BY finished_at) AS gap
											 FROM finsec.backup_register
											WHERE success
											  AND finished_at >= (SELECT max(finished_at) FROM finsec.backup_register
																   WHERE success AND finished_at < now() - interval '7 days')) g),
			'restore_test', (SELECT jsonb_build_object('finished_at', finished_at, 'rto_seconds', rto_seconds,
													   'rpo_seconds', rpo_seconds)
							   FROM finsec.restore_test t
							  WHERE success AND finished_at >= now() - interval '92 days'
								-- the restore of a successful backup recorded before it (as restore_tested)
								AND finsec._restore_of_recorded_backup(t.backup_label, t.started_at)
							  ORDER BY finished_at DESC, id DESC LIMIT 1),
			'switchover_drill', (SELECT jsonb_build_object('finished_at', finished_at, 'rto_seconds', rto_seconds)
								   FROM finsec.switchover_drill
								  WHERE success AND finished_at >= now() - interval '366 days'
								  ORDER BY finished_at DESC, id DESC LIMIT 1));
	END IF;
	SELECT * INTO arch FROM finsec._check_wal_archiving(jsonb_build_object('max_lag_seconds', greatest(atimeout, 3600)));
	r := r || jsonb_build_object('wal_archiving', arch.status, 'archive_timeout_seconds', atimeout,
								 'last_archived_age_seconds', arch.evidence -> 'last_archived_age_seconds');
	IF f IS NOT NULL THEN
		r := r || jsonb_build_object(
			'streaming_standbys', (SELECT count(*) FROM jsonb_array_elements(f -> 'senders') s
									WHERE s ->> 'state' = 'streaming'),
			'max_flush_lag_seconds', (SELECT coalesce(max((s ->> 'flush_lag_seconds')::numeric), 0)
									   FROM jsonb_array_elements(f -> 'senders') s
									  WHERE s ->> 'state' = 'streaming'),
			'synchronous_connected', (SELECT count(*) FROM jsonb_array_elements(f -> 'senders') s
									   WHERE s ->> 'state' = 'streaming' AND s ->> 'sync_state' IN ('sync', 'quorum')));
	END IF;
	-- synchronous_standby_names: FIRST n (...), ANY n (...), n (...), or a list (FIRST 1)
	m := regexp_match(ssn, '^\s*(FIRST|ANY)?\s*([0-9]+)\s*\((.*)\)\s*$', 'i');
	IF btrim(ssn) = '' THEN
		method := NULL;
		num_sync := 0;
	ELSIF m IS NOT NULL THEN
		method := upper(coalesce(m[1], 'FIRST'));
		num_sync := least(m[2]::numeric, 1000)::int;
	ELSE
		method := 'FIRST';
		num_sync := 1;
	END IF;
	SELECT count(*) INTO overrides
	  FROM pg_db_role_setting d CROSS JOIN LATERAL unnest(d.setconfig) c
	 WHERE split_part(c, '=', 1) = 'synchronous_commit'
	   AND split_part(c, '=', 2) NOT IN ('on', 'remote_write', 'remote_apply', 'true', 'yes', '1');
	r := r || jsonb_build_object('synchronous_standby_names', ssn, 'sync_method', method, 'num_sync', num_sync,
								 'synchronous_commit', sc, 'synchronous_commit_overrides', overrides,
								 'failover_tool', NULLIF(current_setting('finsec.dr_failover_tool', true), ''));
	RETURN r;
END
$$;
REVOKE ALL ON FUNCTION finsec._dr_facts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._dr_facts() TO finsec_admin, finsec_auditor;

/*
 * The disaster-recovery level (B1; JR/T 0199-2020 7.2 g and its normative
 * appendix, table 2): one row per level 1 to 6, whether the current
 * configuration meets it (and every level below it), the appendix's
 * targets, the evidence judged and what is missing.  Levels 1 and 2 have
 * no figures in the appendix; finsec reads them from GB/T 20988 (RPO 1 to
 * 7 days): level 1 a full backup within 7 days, level 2 that and a
 * restore test within the quarter.  The inferred level is the highest
 * level whose meets is true.  Observed: settings, pg_stat_archiver,
 * pg_stat_replication; recorded: the backup register; declared:
 * finsec.dr_failover_tool.  Availability is not observable and not judged.
 */
CREATE FUNCTION finsec.dr_level()
RETURNS TABLE (level int, meets boolean, rto_target text, rpo_target text, availability text,
			   evidence jsonb, missing text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f jsonb := finsec._dr_facts();
	full_age numeric := extract(epoch FROM now() - (f ->> 'last_full_backup_at')::timestamptz);
	backup_age numeric := extract(epoch FROM now() - (f ->> 'last_backup_at')::timestamptz);
	backup_rpo numeric := (f ->> 'backup_rpo_seconds')::numeric;
	restore_rto numeric := (f #>> '{restore_test,rto_seconds}')::numeric;
	drill_rto numeric := (f #>> '{switchover_drill,rto_seconds}')::numeric;
	standbys int := (f ->> 'streaming_standbys')::int;
	sync_ok boolean;
	sync_strict boolean;
	rpo_archive numeric;
	rpo_stream numeric;
	lv int;
	rpo_s numeric;
	rto_s numeric;
	best_rpo numeric;
	rpo_by text;
	best_rto numeric;
	rto_by text;
	miss text[];
	below boolean := true;
	ok boolean;
	targets CONSTANT text[][] := ARRAY[
		['not specified by the appendix (GB/T 20988: 2 days or more)', '≤ 7 days (GB/T 20988: 1 to 7 days)', 'not specified'],
		['not specified by the appendix (GB/T 20988: 24 hours or more)', '≤ 7 days (GB/T 20988: 1 to 7 days)', 'not specified'],
		['≤ 24 hours', '≤ 24 hours', '≥ 99% (unplanned outage ≤ 4 days a year)'],
		['≤ 4 hours', '≤ 1 hour', '≥ 99.9% (unplanned outage ≤ 10 hours a year)'],
		['≤ 30 minutes', '≈ 0', '≥ 99.99% (unplanned outage ≤ 1 hour a year)'],
		['≤ 2 minutes', '0', '≥ 99.999% (unplanned outage ≤ 5 minutes a year)']];
	rto_limit CONSTANT numeric[] := ARRAY[NULL, NULL, 86400, 14400, 1800, 120];
	rpo_limit CONSTANT numeric[] := ARRAY[604800, 604800, 86400, 3600, 0, 0];
BEGIN
	sync_ok := (f ->> 'num_sync')::int > 0
		AND f ->> 'synchronous_commit' IN ('on', 'remote_write', 'remote_apply')
		AND coalesce((f ->> 'synchronous_connected')::int, 0) >= (f ->> 'num_sync')::int
		AND (f ->> 'synchronous_commit_overrides')::int = 0;
	sync_strict := sync_ok AND f ->> 'synchronous_commit' IN ('on', 'remote_apply');
	-- archiving bounds the loss by archive_timeout, given a base backup to replay it on
	IF f ->> 'wal_archiving' = 'pass' AND (f ->> 'archive_timeout_seconds')::numeric > 0 AND full_age <= 604800 THEN
		rpo_archive := (f ->> 'archive_timeout_seconds')::numeric;
	END IF;
	IF standbys > 0 THEN
		rpo_stream := (f ->> 'max_flush_lag_seconds')::numeric;
	END IF;
	FOR lv IN 1 .. 6 LOOP
		miss := '{}';
		rpo_s := rpo_limit[lv];
		rto_s := rto_limit[lv];
		best_rpo := NULL;
		rpo_by := NULL;
		best_rto := NULL;
		rto_by := NULL;
		IF NOT (f ->> 'register_visible')::boolean THEN
			miss := miss || 'the caller cannot read the backup register (finsec.backup_register, restore_test, switchover_drill)'::text;
		END IF;
		IF NOT (f ->> 'replication_visible')::boolean THEN
			miss := miss || 'the caller cannot read the replication state (finsec._continuity_facts())'::text;
		END IF;
		IF lv <= 2 THEN
			IF full_age IS NULL OR full_age > 604800 THEN
				miss := miss || 'a successful full backup in the register within 7 days'::text;
			END IF;
			best_rpo := backup_age;
			rpo_by := 'backup register (recorded)';
			IF lv = 2 AND coalesce(jsonb_typeof(f -> 'restore_test'), 'null') = 'null' THEN
				miss := miss || 'a successful restore test in the register within 92 days'::text;
			END IF;
			best_rto := restore_rto;
			rto_by := CASE WHEN restore_rto IS NOT NULL THEN 'restore test (recorded)' END;
		ELSIF lv <= 4 THEN
			-- RPO: the least of the backups' age, the archive's bound, the standby's lag
			SELECT v, b INTO best_rpo, rpo_by FROM (VALUES
				(CASE WHEN full_age <= 604800 THEN backup_rpo END, 'longest gap between the successful backups over the last 7 days (recorded)'),
				(rpo_archive, 'WAL archiving working, archive_timeout (observed)'),
				(rpo_stream, 'streaming standby, flush lag (observed)')) x(v, b)
			 WHERE v IS NOT NULL ORDER BY v LIMIT 1;
			IF best_rpo IS NULL OR best_rpo > rpo_s THEN
				miss := miss || format('a recovery point within %s seconds: WAL archiving with 0 < archive_timeout <= %s and a full backup within 7 days, a streaming standby, or backups over the last 7 days no further apart (now: %s)',
									   rpo_s, rpo_s, coalesce(round(best_rpo)::text || ' seconds by ' || rpo_by, 'none'));
			END IF;
			SELECT v, b INTO best_rto, rto_by FROM (VALUES
				(restore_rto, 'restore test (recorded)'),
				(CASE WHEN standbys > 0 THEN drill_rto END, 'switchover drill to a streaming standby (recorded, standby observed)')) x(v, b)
			 WHERE v IS NOT NULL ORDER BY v LIMIT 1;
			IF best_rto IS NULL OR best_rto > rto_s THEN
				miss := miss || format('a recovery time within %s seconds: a restore test within 92 days or a switchover drill within 366 days (with a standby streaming) that took no longer (now: %s)',
									   rto_s, coalesce(round(best_rto)::text || ' seconds by ' || rto_by, 'none'));
			END IF;
		ELSE
			IF NOT (CASE WHEN lv = 5 THEN sync_ok ELSE sync_strict END) THEN
				miss := miss || CASE WHEN lv = 5
					THEN format('synchronous replication: synchronous_standby_names set, synchronous_commit on, remote_write or remote_apply for every role and database, and at least num_sync standbys connected as sync or quorum (now: %s synchronous of %s required, synchronous_commit %s, %s overriding role or database settings)',
								coalesce(f ->> 'synchronous_connected', 'unknown'), f ->> 'num_sync', f ->> 'synchronous_commit', f ->> 'synchronous_commit_overrides')
					ELSE format('no loss at all: synchronous replication as for level 5 with synchronous_commit on or remote_apply (now: %s synchronous of %s required, synchronous_commit %s)',
								coalesce(f ->> 'synchronous_connected', 'unknown'), f ->> 'num_sync', f ->> 'synchronous_commit') END;
			ELSE
				best_rpo := 0;
				rpo_by := format('synchronous replication, %s %s, synchronous_commit %s (observed)',
								 f ->> 'sync_method', f ->> 'num_sync', f ->> 'synchronous_commit');
			END IF;
			IF f ->> 'failover_tool' IS NULL THEN
				miss := miss || 'failover tooling declared in finsec.dr_failover_tool'::text;
			END IF;
			IF standbys IS NULL OR standbys = 0 THEN
				miss := miss || 'a streaming standby to fail over to'::text;
			END IF;
			IF drill_rto IS NULL OR drill_rto > rto_s THEN
				miss := miss || format('a successful switchover drill within 366 days that took at most %s seconds (now: %s)',
									   rto_s, coalesce(round(drill_rto)::text || ' seconds', 'none'));
			ELSE
				best_rto := drill_rto;
				rto_by := format('switchover drill (recorded) with %s declared', f ->> 'failover_tool');
			END IF;
		END IF;
		ok := below AND cardinality(miss) = 0;
		IF NOT below THEN
			miss := miss || format('level %s is not met', lv - 1);
		END IF;
		level := lv;
		meets := ok;
		rto_target := targets[lv][1];
		rpo_target := targets[lv][2];
		availability := targets[lv][3];
		evidence := jsonb_build_object('rpo_required_seconds', rpo_s, 'rpo_seconds', round(best_rpo, 3),
			'rpo_by', rpo_by, 'rto_required_seconds', rto_s, 'rto_seconds', round(best_rto, 3), 'rto_by', rto_by,
			'availability', 'not observed');
		missing := NULLIF(array_to_string(miss, '; '), '');
		RETURN NEXT;
		below := ok;
	END LOOP;
END
$$;
COMMENT ON FUNCTION finsec.dr_level() IS
	'the disaster-recovery levels 1 to 6 (JR/T 0199-2020 appendix): whether the configuration meets each, its targets, evidence and what is missing';
REVOKE ALL ON FUNCTION finsec.dr_level() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.dr_level() TO finsec_admin, finsec_auditor;

/*
 * The declared target level (finsec.dr_target_level, raised to args.min_level
 * where the clause sets a floor) is met (B1): pass if finsec.dr_level()
 * infers at least it, fail with what the target level
 * misses; cannot_verify when the caller cannot read the register or the
 * replication state.
 */
CREATE FUNCTION finsec._check_dr_level(args jsonb, OUT status text, OUT evidence jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	-- args.target replaces the declared level (tests); args.min_level is a clause's
	-- floor (001 7.2 g: at least level 3) under the declared finsec.dr_target_level
	target int := coalesce((args ->> 'target')::int,
						   greatest(current_setting('finsec.dr_target_level')::int, coalesce((args ->> 'min_level')::int, 1)));
	inferred int;
	target_missing text;
	misses jsonb;
	f jsonb;
BEGIN
	IF finsec._continuity_cannot_read('backup_register') IS NOT NULL
	   OR finsec._continuity_cannot_read('restore_test') IS NOT NULL
	   OR finsec._continuity_cannot_read('switchover_drill') IS NOT NULL
	   OR NOT has_function_privilege('finsec._continuity_facts()', 'EXECUTE') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot read the backup register or the replication state',
			'needs', 'SELECT on finsec.backup_register, restore_test, switchover_drill and EXECUTE on finsec._continuity_facts() (finsec_auditor or finsec_admin)');
		RETURN;
	END IF;
	SELECT coalesce(max(d.level) FILTER (WHERE d.meets), 0), max(d.missing) FILTER (WHERE d.level = target),
		   jsonb_object_agg(d.level::text, d.missing)
	  INTO inferred, target_missing, misses FROM finsec.dr_level() d;
	f := finsec._dr_facts();
	status := CASE WHEN inferred >= target THEN 'pass' ELSE 'fail' END;
	evidence := jsonb_build_object('inferred_level', inferred, 'target_level', target,
								   'missing_for_target', target_missing,
								   'missing_for_next', misses ->> (inferred + 1)::text,
								   'facts', f - 'now');
END
$$;

DO $$
DECLARE
	c text;
BEGIN
	FOREACH c IN ARRAY ARRAY['fsync', 'full_page_writes', 'data_checksums', 'synchronous_commit', 'wal_archiving',
							 'backup_schedule', 'restore_tested', 'switchover_drilled', 'standby_present',
							 'realtime_offsite_backup', 'dr_level'] LOOP
		EXECUTE format('COMMENT ON FUNCTION finsec.%I(jsonb) IS %L', '_check_' || c,
					   'compliance check ' || c || ' (docs/compliance.md)');
		EXECUTE format('REVOKE ALL ON FUNCTION finsec.%I(jsonb) FROM PUBLIC', '_check_' || c);
		EXECUTE format('GRANT EXECUTE ON FUNCTION finsec.%I(jsonb) TO finsec_admin, finsec_auditor', '_check_' || c);
	END LOOP;
END
$$;

INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin) VALUES
	('fsync', 'finsec._check_fsync(jsonb)', '数据同步写盘（fsync）', 'fsync on', true),
	('full_page_writes', 'finsec._check_full_page_writes(jsonb)', '整页写（full_page_writes）', 'full_page_writes on', true),
	('data_checksums', 'finsec._check_data_checksums(jsonb)', '数据页校验和', 'Data checksums', true),
	('synchronous_commit', 'finsec._check_synchronous_commit(jsonb)', '同步提交', 'Synchronous commit', true),
	('wal_archiving', 'finsec._check_wal_archiving(jsonb)', 'WAL 归档', 'WAL archiving', true),
	('backup_schedule', 'finsec._check_backup_schedule(jsonb)', '每日增量、每周全量备份', 'Daily incremental and weekly full backups', true),
	('restore_tested', 'finsec._check_restore_tested(jsonb)', '备份恢复测试', 'Restore tested', true),
	('switchover_drilled', 'finsec._check_switchover_drilled(jsonb)', '主备切换演练', 'Switchover drilled', true),
	('standby_present', 'finsec._check_standby_present(jsonb)', '热备数据库', 'Standby present', true),
	('realtime_offsite_backup', 'finsec._check_realtime_offsite_backup(jsonb)', '实时备份与异地备份', 'Real-time and off-site backup', true),
	('dr_level', 'finsec._check_dr_level(jsonb)', '容灾能力等级', 'Disaster-recovery level', true);

-- Which clauses each check answers, with the clause's numbers.
INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin) VALUES
	('003:6.4.3.3.5', 'fsync', '{}', true),
	('003:6.4.3.3.5', 'full_page_writes', '{}', true),
	('003:6.4.3.3.5', 'data_checksums', '{}', true),
	('003:6.4.3.3.5', 'synchronous_commit', '{}', true),
	('004:8.3.4h-enh', 'fsync', '{}', true),
	('004:8.3.4h-enh', 'full_page_writes', '{}', true),
	('004:8.3.4h-enh', 'data_checksums', '{}', true),
	('004:8.3.4h-enh', 'synchronous_commit', '{}', true),
	-- 004 8.3.5 c: incremental at least daily, full at least weekly
	('004:8.3.5c', 'backup_schedule', '{"full_days": 7, "incr_days": 1}', true),
	('004:8.3.5c', 'wal_archiving', '{"max_lag_seconds": 3600}', true),
	('002:3.2.9', 'backup_schedule', '{"full_days": 7, "incr_days": 1}', true),
	('002:3.2.9', 'wal_archiving', '{"max_lag_seconds": 3600}', true),
	('002:3.2.9', 'standby_present', '{"min": 1}', true),
	-- 004 8.3.5 b enhanced: real-time local backup and off-site backup
	('004:8.3.5b-enh', 'wal_archiving', '{"max_lag_seconds": 3600}', true),
	('004:8.3.5b-enh', 'realtime_offsite_backup', '{"max_lag_seconds": 3600}', true),
	('001:7.4b', 'backup_schedule', '{"full_days": 7, "incr_days": 1}', true),
	('001:7.4b', 'restore_tested', '{"days": 92}', true),
	('001:7.4c', 'backup_schedule', '{"full_days": 7, "incr_days": 1}', true),
	('001:7.4c', 'restore_tested', '{"days": 92}', true),
	('004:7.5.11a-enh', 'backup_schedule', '{"full_days": 7, "incr_days": 1}', true),
	('004:7.5.11a-enh', 'restore_tested', '{"days": 92}', true),
	-- 004 7.5.11 b enhanced: the restore procedure every quarter
	('004:7.5.11b-enh', 'backup_schedule', '{"full_days": 7, "incr_days": 1}', true),
	('004:7.5.11b-enh', 'restore_tested', '{"days": 92}', true),
	-- 001 7.5 b: the switchover between backup and production at least once a year
	('001:7.5b', 'switchover_drilled', '{"days": 366}', true),
	('001:7.3d', 'standby_present', '{"min": 1}', true),
	('001:7.4i', 'standby_present', '{"min": 1}', true),
	('001:7.4i', 'wal_archiving', '{"max_lag_seconds": 3600}', true),
	-- 001 7.2 g: products support at least level 3; the appendix: the declared level
	('001:7.2b', 'standby_present', '{"min": 1}', true),
	('001:7.4h', 'standby_present', '{"min": 1}', true),
	('001:7.4h', 'wal_archiving', '{"max_lag_seconds": 3600}', true),
	('001:7.4h', 'dr_level', '{}', true),
	('001:7.4i', 'dr_level', '{}', true),
	-- catalog clauses beyond the digest (docs/compliance.md "Mappings still to add")
	('003:6.4.2.4.1', 'backup_schedule', '{"full_days": 7, "incr_days": 1}', true),
	('003:6.4.2.4.1', 'wal_archiving', '{"max_lag_seconds": 3600}', true),
	('004:7.5.11b', 'backup_schedule', '{"full_days": 7, "incr_days": 1}', true),
	('004:7.5.11b', 'restore_tested', '{"days": 92}', true),
	('001:7.2g', 'dr_level', '{"min_level": 3}', true),
	('001:appendix', 'dr_level', '{}', true);

-- (end of section 4b)



-- ---------------------------------------------------------------------
-- 4c. Mappings of catalog clauses onto checks of several parts (their
--     check definitions all precede this point).
-- ---------------------------------------------------------------------

INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin) VALUES
	-- A3b: an authentication failure recorded with identity and address (001 11.2.2 i):
	-- finsec writes each failure to the ledger when lockout is on; the server log too
	('001:11.2.2i', 'login_lockout', '{}', true),
	('001:11.2.2i', 'log_connections', '{}', true),
	-- D3: sensitive fields encrypted at rest (002 4.4.3)
	('002:4.4.3', 'sensitive_columns_labelled', '{}', true),
	('002:4.4.3', 'card_numbers_plain', '{}', true),
	-- A7: two-person control of critical operations needs two holders of each duty (004 7.1.1 e)
	('004:7.1.1e', 'duty_two_people', '{}', true),
	-- A16: changes only after a backup (004 7.5.10 a): a current backup exists
	('004:7.5.10a', 'backup_schedule', '{"full_days": 7, "incr_days": 1}', true),
	-- D6: integrity damage of stored (and transmitted) important data detected (004 8.3.4 d-e)
	('004:8.3.4d', 'posted_tables_protected', '{}', true),
	('004:8.3.4e', 'posted_tables_protected', '{}', true),
	('004:8.3.4e', 'ssl_enabled', '{}', true);

-- (end of section 4c)



-- ---------------------------------------------------------------------
-- 5. Reports: finsec.report_*(from, to, lang).
-- ---------------------------------------------------------------------

/*
 * Reports (docs/compliance.md): SQL functions over a half-open
 * period [from, to), one row per figure, CSV-friendly, labels in zh_CN or
 * en.  All SECURITY INVOKER: a report sees what its caller sees, and a
 * source the caller cannot read is a row with value NULL and unit
 * 'cannot_read' (dimension naming the source), never a zero.
 *
 * Figure reports return (figure, label, day, dimension, value, unit):
 * day NULL for the period total, set for a daily series (calendar days in
 * finsec's business time zone, finsec._report_tz()); dimension NULL or
 * the breakdown key.
 */

/* The one label table of every report (figure -> zh_CN, en). */
CREATE FUNCTION finsec.report_label(figure text, lang text DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(
		(SELECT CASE WHEN finsec._compliance_lang($2) = 'en' THEN l.en ELSE l.zh END
		   FROM (VALUES
			-- business
			('accounts_registered', '新增账户（首笔交易在本期）', 'Accounts registered (first transaction in the period)'),
			('accounts_active', '活跃账户', 'Active accounts'),
			('payments', '支付笔数', 'Payments'),
			('settlements', '结算笔数', 'Settlements'),
			('transfers', '转账笔数', 'Transfers'),
			('withdrawals', '提现笔数', 'Withdrawals'),
			('refunds', '退款及冲正笔数', 'Refunds and reversals'),
			('payments_amount', '支付金额', 'Payment amount'),
			('settlements_amount', '结算金额', 'Settlement amount'),
			('transfers_amount', '转账金额', 'Transfer amount'),
			('withdrawals_amount', '提现金额', 'Withdrawal amount'),
			('refunds_amount', '退款及冲正金额', 'Refund and reversal amount'),
			('unreadable_table', '无法读取的数据表', 'Table that could not be read'),
			-- risk
			('decisions', '风险决策（非直接放行）', 'Risk decisions (other than a plain allow)'),
			('blocks', '拦截', 'Blocked payments'),
			('decisions_degraded', '降级决策', 'Degraded decisions'),
			('risk_cases_opened', '新开风险案件', 'Risk cases opened'),
			('risk_cases_closed', '已结风险案件', 'Risk cases closed'),
			('risk_cases_open', '期末未结风险案件', 'Risk cases open at the end of the period'),
			('list_entries_added', '新增名单条目', 'List entries added'),
			('list_entries_removed', '移除名单条目', 'List entries removed'),
			-- limits
			('refusals', '限额拒绝', 'Limit refusals'),
			('refusals_by_policy', '按限额策略的拒绝', 'Limit refusals by policy'),
			('refusals_by_table', '按数据表的拒绝', 'Limit refusals by table'),
			-- monitor
			('alerts', '监测预警', 'Monitoring alerts'),
			('alerts_by_state', '预警（按当前状态）', 'Alerts by current state'),
			('alerts_by_severity', '预警（按严重程度）', 'Alerts by severity'),
			('alerts_closed', '已关闭预警', 'Alerts closed'),
			('alert_cases', '预警关联案件', 'Cases of alerts'),
			('role_suspensions', '角色暂停', 'Role suspensions'),
			('large_value_reports', '大额交易报告', 'Large-value reports'),
			-- audit
			('events', '审计事件', 'Audit events'),
			('events_by_user', '审计事件（按用户）', 'Audit events by user'),
			('events_succeeded', '成功事件', 'Successful events'),
			('events_failed', '失败事件', 'Failed events'),
			('login_failures', '登录失败', 'Login failures'),
			('refused_actions', '被拒绝的操作', 'Refused actions'),
			('off_hours_events', '非工作时间事件', 'Off-hours events'),
			('privilege_changes', '权限变更', 'Privilege changes'),
			-- keys
			('key_uses', '密钥使用次数', 'Key uses'),
			('key_creations', '密钥生成、导入与轮换', 'Keys generated, imported and rotated'),
			('key_rewraps', '主密钥重新包装', 'Master key rewraps'),
			('key_verifications', '密钥校验', 'Key verifications'),
			('key_change_requests', '密钥变更申请', 'Key change requests'),
			('key_approvals', '密钥变更审批', 'Key change approvals'),
			-- credit
			('credit_queries', '征信查询', 'Credit queries'),
			('credit_queries_by_reason', '征信查询（按查询原因）', 'Credit queries by reason'),
			('credit_queries_by_user', '征信查询（按用户）', 'Credit queries by user'),
			('credit_queries_suspended', '被暂停用户的查询', 'Credit queries of suspended users'),
			('credit_queries_refused', '被拒绝的征信查询', 'Credit queries refused'),
			('credit_user_suspensions', '征信用户暂停', 'Credit user suspensions'),
			('disputes_opened', '新受理异议', 'Disputes opened'),
			('disputes_closed', '已办结异议', 'Disputes closed'),
			('disputes_overdue', '逾期异议', 'Disputes overdue'),
			('deid_batches', '去标识化批次', 'De-identification batches'),
			('deid_records', '去标识化记录', 'De-identified records')
		   ) l(figure, zh, en)
		  WHERE l.figure = $1),
		$1)
$$;
COMMENT ON FUNCTION finsec.report_label(text, text) IS
	'the label of a report figure in zh_CN or en (lang NULL: finsec.report_language); the figure name itself when it has none';
REVOKE ALL ON FUNCTION finsec.report_label(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_label(text, text) TO finsec_admin, finsec_auditor, finsec_operator;

/* finsec's business time zone: the monitor's (its working-day calendar), else the limits'. */
CREATE FUNCTION finsec._report_tz()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(nullif(current_setting('finsec.monitor_timezone', true), ''),
					nullif(current_setting('finsec.limit_timezone', true), ''),
					'Asia/Shanghai')
$$;
REVOKE ALL ON FUNCTION finsec._report_tz() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_tz() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The period's checks (S9Q40 a NULL bound, S9Q41 from after to, S9Q42 a
 * span over five years) and the language; returns the language.
 */
CREATE FUNCTION finsec._report_period("from" timestamptz, "to" timestamptz, lang text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF "from" IS NULL OR "to" IS NULL THEN
		RAISE EXCEPTION 'the period of a report must have both bounds'
			USING ERRCODE = 'S9Q40',
				  DETAIL = format('from is %s, to is %s.', coalesce("from"::text, 'NULL'), coalesce("to"::text, 'NULL')),
				  HINT = 'Pass the first instant of the period and the first instant after it, e.g. ''2026-11-01'' and ''2026-12-01''.';
	END IF;
	IF "from" > "to" THEN
		RAISE EXCEPTION 'the period of a report starts after it ends'
			USING ERRCODE = 'S9Q41',
				  DETAIL = format('from is %s, to is %s.', "from", "to"),
				  HINT = 'The period is [from, to): swap the bounds.';
	END IF;
	IF "to" > "from" + interval '5 years' THEN
		RAISE EXCEPTION 'the period of a report is longer than five years'
			USING ERRCODE = 'S9Q42',
				  DETAIL = format('from is %s, to is %s.', "from", "to"),
				  HINT = 'Report on five years or less at a time and add the periods up.';
	END IF;
	RETURN finsec._compliance_lang(lang);
END
$$;
REVOKE ALL ON FUNCTION finsec._report_period(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_period(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor, finsec_operator;

/* The calendar days (business time zone) that [from, to) touches. */
CREATE FUNCTION finsec._report_days("from" timestamptz, "to" timestamptz)
RETURNS SETOF date
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT d::date
	  FROM generate_series(($1 AT TIME ZONE finsec._report_tz())::date,
						   (($2 - interval '1 microsecond') AT TIME ZONE finsec._report_tz())::date,
						   interval '1 day') d
	 WHERE $1 < $2
$$;
REVOKE ALL ON FUNCTION finsec._report_days(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_days(timestamptz, timestamptz) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * One figure from a query of finsec's own report functions (never a
 * caller's text: it is a fixed string of this script, and it runs as the
 * caller, SECURITY INVOKER, so it grants nothing).  q returns (at
 * timestamptz, dim text, v numeric) for the period [$1, $2); the figure
 * is the period total (sum of v, 0 when no rows), with daily rows for
 * every day of the period when daily, and one total per dimension when
 * by_dim.  Each of the tables in needs is tested for SELECT first: one the
 * caller cannot read makes the figure a single cannot_read row naming it;
 * an insufficient_privilege error while reading (row-level security) too.
 */
CREATE FUNCTION finsec._report_figure(fig text, fig_unit text, lang text,
	"from" timestamptz, "to" timestamptz, needs regclass[], q text,
	daily boolean DEFAULT true, by_dim boolean DEFAULT false)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET row_security = off
AS $$
DECLARE
	t regclass;
	lab text := finsec.report_label($1, $3);
BEGIN
	IF fig IS NULL OR q IS NULL OR needs IS NULL OR daily IS NULL OR by_dim IS NULL THEN
		RAISE EXCEPTION 'a report figure needs its name, sources, query and series flags'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'finsec._report_figure is called by the report functions; call those instead.';
	END IF;
	PERFORM finsec._report_period("from", "to", lang);
	FOREACH t IN ARRAY needs LOOP
		IF NOT has_table_privilege(t, 'SELECT') THEN
			RETURN QUERY SELECT $1, lab, NULL::date, t::text, NULL::numeric, 'cannot_read'::text;
			RETURN;
		END IF;
	END LOOP;
	BEGIN
		RETURN QUERY EXECUTE format($f$
			WITH ev AS MATERIALIZED (
				SELECT (e.at AT TIME ZONE finsec._report_tz())::date AS day, e.dim, e.v
				  FROM (%s) e(at, dim, v))
			SELECT $3, $4, NULL::date, NULL::text, coalesce((SELECT sum(v) FROM ev), 0)::numeric, $5
			UNION ALL
			(SELECT $3, $4, d.day, NULL::text, coalesce(x.s, 0)::numeric, $5
			   FROM finsec._report_days($1, $2) d(day)
			   LEFT JOIN (SELECT ev.day, sum(ev.v) AS s FROM ev GROUP BY ev.day) x ON x.day = d.day
			  WHERE $6
			  ORDER BY d.day)
			UNION ALL
			(SELECT $3, $4, NULL::date, coalesce(ev.dim, 'unknown'), sum(ev.v)::numeric, $5
			   FROM ev WHERE $7 GROUP BY coalesce(ev.dim, 'unknown') ORDER BY 4)
		$f$, q) USING $4, $5, $1, lab, $2, daily, by_dim;
	EXCEPTION WHEN insufficient_privilege THEN
		RETURN QUERY SELECT $1, lab, NULL::date, array_to_string(needs, ','), NULL::numeric, 'cannot_read'::text;
	END;
END
$$;
REVOKE ALL ON FUNCTION finsec._report_figure(text, text, text, timestamptz, timestamptz, regclass[], text, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_figure(text, text, text, timestamptz, timestamptz, regclass[], text, boolean, boolean)
	TO finsec_admin, finsec_auditor, finsec_operator;

/* ---- report_limits: limit refusals (finsec.limit_refusal) ---- */
CREATE FUNCTION finsec.report_limits("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	src regclass[] := ARRAY['finsec.limit_refusal'::regclass];
BEGIN
	RETURN QUERY SELECT * FROM finsec._report_figure('refusals', 'count', l, "from", "to", src,
		'SELECT refused_at, rule, 1 FROM finsec.limit_refusal WHERE refused_at >= $1 AND refused_at < $2', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('refusals_by_policy', 'count', l, "from", "to", src,
		'SELECT refused_at, coalesce(policy, rule), 1 FROM finsec.limit_refusal WHERE refused_at >= $1 AND refused_at < $2', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('refusals_by_table', 'count', l, "from", "to", src,
		'SELECT refused_at, relation, 1 FROM finsec.limit_refusal WHERE refused_at >= $1 AND refused_at < $2', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_limits(timestamptz, timestamptz, text) IS
	'limit refusals of [from, to): daily and by reason (rule), by policy, by table';
REVOKE ALL ON FUNCTION finsec.report_limits(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_limits(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor, finsec_operator;

/* ---- report_risk: decisions, cases, lists ---- */
CREATE FUNCTION finsec.report_risk("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	dl regclass[] := ARRAY['finsec.risk_decision_log'::regclass];
	rc regclass[] := ARRAY['finsec.risk_case'::regclass];
	le regclass[] := ARRAY['finsec.risk_list_entry'::regclass];
BEGIN
	RETURN QUERY SELECT * FROM finsec._report_figure('decisions', 'count', l, "from", "to", dl,
		'SELECT decided_at, decision, 1 FROM finsec.risk_decision_log WHERE decided_at >= $1 AND decided_at < $2', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('blocks', 'count', l, "from", "to", dl,
		'SELECT decided_at, NULL::text, 1 FROM finsec.risk_decision_log WHERE decided_at >= $1 AND decided_at < $2 AND decision = ''block''', true, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('decisions_degraded', 'count', l, "from", "to", dl,
		'SELECT decided_at, decision, 1 FROM finsec.risk_decision_log WHERE decided_at >= $1 AND decided_at < $2 AND degraded', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('risk_cases_opened', 'count', l, "from", "to", rc,
		'SELECT opened_at, decision, 1 FROM finsec.risk_case WHERE opened_at >= $1 AND opened_at < $2', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('risk_cases_closed', 'count', l, "from", "to", rc,
		'SELECT closed_at, outcome, 1 FROM finsec.risk_case WHERE closed_at >= $1 AND closed_at < $2', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('risk_cases_open', 'count', l, "from", "to", rc,
		'SELECT $2 - interval ''1 microsecond'', state, 1 FROM finsec.risk_case WHERE opened_at < $2 AND (closed_at IS NULL OR closed_at >= $2)', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('list_entries_added', 'count', l, "from", "to", le,
		'SELECT added_at, color || '':'' || entity_type, 1 FROM finsec.risk_list_entry WHERE added_at >= $1 AND added_at < $2', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('list_entries_removed', 'count', l, "from", "to", le,
		'SELECT removed_at, color || '':'' || entity_type, 1 FROM finsec.risk_list_entry WHERE removed_at >= $1 AND removed_at < $2', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_risk(timestamptz, timestamptz, text) IS
	'risk decisions of [from, to) by outcome (the log holds every decision but plain allows), blocks daily, degraded decisions, cases opened, closed and open at the end, list entries added and removed';
REVOKE ALL ON FUNCTION finsec.report_risk(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_risk(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor, finsec_operator;

/* ---- report_monitor: alerts, cases, suspensions, large-value reports ---- */
CREATE FUNCTION finsec.report_monitor("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	al regclass[] := ARRAY['finsec.alert'::regclass];
BEGIN
	RETURN QUERY SELECT * FROM finsec._report_figure('alerts', 'count', l, "from", "to", al,
		'SELECT raised_at, rule_name, 1 FROM finsec.alert WHERE raised_at >= $1 AND raised_at < $2 AND NOT shadow', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('alerts_by_state', 'count', l, "from", "to", al,
		'SELECT raised_at, state, 1 FROM finsec.alert WHERE raised_at >= $1 AND raised_at < $2 AND NOT shadow', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('alerts_by_severity', 'count', l, "from", "to", al,
		'SELECT raised_at, severity, 1 FROM finsec.alert WHERE raised_at >= $1 AND raised_at < $2 AND NOT shadow', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('alerts_closed', 'count', l, "from", "to", al,
		'SELECT closed_at, outcome, 1 FROM finsec.alert WHERE closed_at >= $1 AND closed_at < $2 AND NOT shadow', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('alert_cases', 'count', l, "from", "to", al,
		'SELECT min(raised_at), NULL::text, 1 FROM finsec.alert WHERE raised_at >= $1 AND raised_at < $2 AND case_id IS NOT NULL GROUP BY case_id', false, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('role_suspensions', 'count', l, "from", "to",
		ARRAY['finsec.role_suspension'::regclass],
		'SELECT suspended_at, rule_name, 1 FROM finsec.role_suspension WHERE suspended_at >= $1 AND suspended_at < $2', false, true);
	-- large-value reports created in the period, by their current status
	RETURN QUERY SELECT * FROM finsec._report_figure('large_value_reports', 'count', l, "from", "to",
		ARRAY['finsec.large_value_report'::regclass],
		'SELECT created_at, status, 1 FROM finsec.large_value_report WHERE created_at >= $1 AND created_at < $2', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_monitor(timestamptz, timestamptz, text) IS
	'monitoring alerts of [from, to) (shadow rules left out): daily and by rule, by current state and severity, closed by outcome, their cases, role suspensions, large-value reports by status';
REVOKE ALL ON FUNCTION finsec.report_monitor(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_monitor(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * ---- report_audit: the monthly analysis of the ledger (004 7.5.7 f) ----
 * Off-hours: the event's local time (finsec._report_tz()) on a day that is
 * not a working day (finsec.is_working_day: the calendar, else Monday to
 * Friday) or outside [work_start, work_end).  Privilege changes: the event
 * types finsec writes when a role, a lock, a password, a clearance, a key
 * or a two-person request changes (finsec._report_privilege_event).
 */
CREATE FUNCTION finsec._report_privilege_event(event_type text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT $1 ~ '^(change|role|label)\.'
		OR $1 IN ('auth.lock', 'auth.unlock', 'auth.password', 'auth.exempt_login',
				  'key.generate', 'key.import', 'key.rotate', 'key.rewrap',
				  'credit.user_set', 'credit.user_remove', 'credit.user_suspended', 'credit.user_restore',
				  'limits.exempt', 'protect.policy_create', 'protect.policy_drop')
$$;
REVOKE ALL ON FUNCTION finsec._report_privilege_event(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_privilege_event(text) TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec._report_off_hours(at timestamptz, work_start time, work_end time)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT NOT finsec.is_working_day((at AT TIME ZONE finsec._report_tz())::date)
		OR (at AT TIME ZONE finsec._report_tz())::time < work_start
		OR (at AT TIME ZONE finsec._report_tz())::time >= work_end
$$;
REVOKE ALL ON FUNCTION finsec._report_off_hours(timestamptz, time, time) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_off_hours(timestamptz, time, time) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The ledger records each analysis of itself: report_audit, run by a
 * caller who can read the ledger, writes an audit.analysis event (the
 * period analysed, the events in it) so that the self-check can verify
 * that the ledger is analysed at least monthly (004 7.5.7 f, U11; check
 * audit_analysis).  SECURITY DEFINER only to write a finsec event type
 * (audit.*, reserved to finsec's own functions) for finsec_auditor, who
 * may not call finsec.audit_event(); it reads no user object, counts the
 * ledger's rows of the period and records who ran it (the ledger's
 * db_user is the caller before the definer switch).  Granted to
 * finsec_auditor only, the one role that reads the ledger (EXECUTE is
 * checked against the calling role, also after SET ROLE).
 */
CREATE FUNCTION finsec._report_record_analysis("from" timestamptz, "to" timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF "from" IS NULL OR "to" IS NULL OR NOT isfinite("from") OR NOT isfinite("to") OR "from" > "to" THEN
		RAISE EXCEPTION 'an analysis of the ledger needs a period'
			USING ERRCODE = 'S9Q46',
				  DETAIL = format('from is %s, to is %s.', coalesce("from"::text, 'NULL'), coalesce("to"::text, 'NULL')),
				  HINT = 'Run finsec.report_audit(from, to), which records its analysis itself.';
	END IF;
	SELECT count(*) INTO n FROM finsec.audit a WHERE a.event_time >= "from" AND a.event_time < "to";
	RETURN finsec.audit_event('audit.analysis', 'finsec.audit', 'report_audit', true,
		format('the audit ledger was analysed for [%s, %s): %s event(s)', "from", "to", n),
		jsonb_build_object('from', "from", 'to', "to", 'events', n));
END
$$;
COMMENT ON FUNCTION finsec._report_record_analysis(timestamptz, timestamptz) IS
	'record in the ledger that it was analysed for a period (audit.analysis); called by finsec.report_audit';
REVOKE ALL ON FUNCTION finsec._report_record_analysis(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_record_analysis(timestamptz, timestamptz) TO finsec_auditor;

CREATE FUNCTION finsec.report_audit("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL,
	work_start time DEFAULT '09:00', work_end time DEFAULT '18:00')
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	a regclass[] := ARRAY['finsec.audit'::regclass];
	w text;
BEGIN
	IF work_start IS NULL OR work_end IS NULL OR work_start >= work_end THEN
		RAISE EXCEPTION 'the working hours of report_audit are not a range'
			USING ERRCODE = 'S9Q44',
				  DETAIL = format('work_start is %s, work_end is %s.', coalesce(work_start::text, 'NULL'), coalesce(work_end::text, 'NULL')),
				  HINT = 'Pass work_start before work_end, e.g. ''09:00'' and ''18:00''.';
	END IF;
	w := ' FROM finsec.audit WHERE event_time >= $1 AND event_time < $2';
	RETURN QUERY SELECT * FROM finsec._report_figure('events', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w, true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('events_by_user', 'count', l, "from", "to", a,
		'SELECT event_time, quote_ident(db_user), 1' || w, false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('events_succeeded', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w || ' AND success', false, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('events_failed', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w || ' AND NOT success', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('login_failures', 'count', l, "from", "to", a,
		'SELECT event_time, quote_ident(db_user), 1' || w || ' AND event_type = ''auth.failure''', true, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('refused_actions', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w || ' AND NOT success AND event_type NOT LIKE ''auth.%''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('off_hours_events', 'count', l, "from", "to", a,
		format('SELECT event_time, event_type, 1%s AND finsec._report_off_hours(event_time, %L, %L)', w, work_start, work_end),
		true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('privilege_changes', 'count', l, "from", "to", a,
		'SELECT event_time, event_type, 1' || w || ' AND finsec._report_privilege_event(event_type)', false, true);
	-- the analysis is recorded in the ledger (audit.analysis) when the ledger could be read
	IF has_table_privilege('finsec.audit', 'SELECT') THEN
		PERFORM finsec._report_record_analysis("from", "to");
	END IF;
END
$$;
COMMENT ON FUNCTION finsec.report_audit(timestamptz, timestamptz, text, time, time) IS
	'analysis of the audit ledger over [from, to) (004 7.5.7 f): events daily and by type, by user, succeeded, failed, login failures, refused actions, off-hours events, privilege changes';
REVOKE ALL ON FUNCTION finsec.report_audit(timestamptz, timestamptz, text, time, time) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_audit(timestamptz, timestamptz, text, time, time) TO finsec_admin, finsec_auditor;

/* ---- report_keys: key usage, creations, rewraps, verifications, approvals (ledger) ---- */
CREATE FUNCTION finsec.report_keys("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	a regclass[] := ARRAY['finsec.audit'::regclass];
	w text := ' FROM finsec.audit WHERE event_time >= $1 AND event_time < $2';
BEGIN
	-- a key.use row counts the uses of one key version in one transaction (detail.count)
	RETURN QUERY SELECT * FROM finsec._report_figure('key_uses', 'count', l, "from", "to", a,
		'SELECT event_time, coalesce(object, ''?'') || ''/'' || coalesce(action, ''?''),'
		|| ' CASE WHEN jsonb_typeof(detail -> ''count'') = ''number'' THEN (detail ->> ''count'')::numeric ELSE 1 END'
		|| w || ' AND event_type = ''key.use''', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_creations', 'count', l, "from", "to", a,
		'SELECT event_time, event_type || '':'' || coalesce(object, ''?''), 1' || w
		|| ' AND event_type IN (''key.generate'', ''key.import'', ''key.rotate'')', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_rewraps', 'count', l, "from", "to", a,
		'SELECT event_time, NULL::text, 1' || w || ' AND event_type = ''key.rewrap''', false, false);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_verifications', 'count', l, "from", "to", a,
		'SELECT event_time, CASE WHEN success THEN ''ok'' ELSE ''failed'' END, 1' || w
		|| ' AND event_type ~ ''^key\.verif''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_change_requests', 'count', l, "from", "to", a,
		'SELECT event_time, split_part(object, '':'', 1), 1' || w
		|| ' AND event_type = ''change.request'' AND object LIKE ''key.%''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('key_approvals', 'count', l, "from", "to", a,
		'SELECT event_time, split_part(object, '':'', 1), 1' || w
		|| ' AND event_type = ''change.approve'' AND object LIKE ''key.%''', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_keys(timestamptz, timestamptz, text) IS
	'key usage of [from, to) from the ledger: uses by label and operation, creations and rotations, rewraps, verifications, key change requests and approvals';
REVOKE ALL ON FUNCTION finsec.report_keys(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_keys(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

/* ---- report_credit: queries, refusals, suspensions, disputes, de-identification ---- */
CREATE FUNCTION finsec.report_credit("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	q regclass[] := ARRAY['finsec.credit_query_log'::regclass];
	d regclass[] := ARRAY['finsec.credit_dispute'::regclass];
	a regclass[] := ARRAY['finsec.audit'::regclass];
	w text := ' FROM finsec.credit_query_log WHERE at >= $1 AND at < $2';
BEGIN
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries', 'count', l, "from", "to", q,
		'SELECT at, institution, 1' || w, true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries_by_reason', 'count', l, "from", "to", q,
		'SELECT at, reason, 1' || w, false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries_by_user', 'count', l, "from", "to", q,
		'SELECT at, quote_ident(user_name), 1' || w, false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries_suspended', 'count', l, "from", "to", q,
		'SELECT at, institution, 1' || w || ' AND outcome = ''suspended''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_queries_refused', 'count', l, "from", "to", a,
		'SELECT event_time, quote_ident(db_user), 1 FROM finsec.audit WHERE event_time >= $1 AND event_time < $2'
		|| ' AND event_type = ''credit.query_refused''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('credit_user_suspensions', 'count', l, "from", "to", a,
		'SELECT event_time, object, 1 FROM finsec.audit WHERE event_time >= $1 AND event_time < $2'
		|| ' AND event_type = ''credit.user_suspended''', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('disputes_opened', 'count', l, "from", "to", d,
		'SELECT received_at, institution, 1 FROM finsec.credit_dispute WHERE received_at >= $1 AND received_at < $2', true, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('disputes_closed', 'count', l, "from", "to", d,
		'SELECT closed_at, status, 1 FROM finsec.credit_dispute WHERE closed_at >= $1 AND closed_at < $2', false, true);
	-- overdue: still open at the end of the period past its due time, or closed in the period after it
	RETURN QUERY SELECT * FROM finsec._report_figure('disputes_overdue', 'count', l, "from", "to", d,
		'SELECT least(due_at, $2 - interval ''1 microsecond''), CASE WHEN closed_at IS NULL OR closed_at >= $2 THEN ''open'' ELSE ''closed_late'' END, 1'
		|| ' FROM finsec.credit_dispute WHERE received_at < $2 AND due_at < $2'
		|| ' AND (closed_at IS NULL OR closed_at >= $2 OR (closed_at >= $1 AND closed_at > due_at))', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('deid_batches', 'count', l, "from", "to",
		ARRAY['finsec.deid_batch'::regclass],
		'SELECT finished_at, state, 1 FROM finsec.deid_batch WHERE finished_at >= $1 AND finished_at < $2', false, true);
	RETURN QUERY SELECT * FROM finsec._report_figure('deid_records', 'count', l, "from", "to",
		ARRAY['finsec.deid_batch'::regclass],
		'SELECT finished_at, action, records FROM finsec.deid_batch WHERE finished_at >= $1 AND finished_at < $2 AND state = ''published''', false, true);
END
$$;
COMMENT ON FUNCTION finsec.report_credit(timestamptz, timestamptz, text) IS
	'credit data of [from, to): queries daily and by institution, by reason, by user, of suspended users, refused; user suspensions; disputes opened, closed, overdue; de-identification batches and records';
REVOKE ALL ON FUNCTION finsec.report_credit(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_credit(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

/*
 * The built-in or finsec type behind a column of an application table
 * (domains followed to their base), as a class: time, number, money,
 * text, boolean, finsec (another finsec type: an identifier, valid by
 * construction), or NULL for a missing or dropped column or any other type
 * (a user-defined type, whose functions a report never runs).
 */
CREATE FUNCTION finsec._report_column_class(rel regclass, col text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE a AS (
		SELECT t.oid, t.typtype, t.typbasetype, t.typnamespace, 0 AS depth
		  FROM pg_attribute at JOIN pg_type t ON t.oid = at.atttypid
		 WHERE at.attrelid = $1 AND at.attname = $2 AND at.attnum > 0 AND NOT at.attisdropped
		UNION ALL
		SELECT t.oid, t.typtype, t.typbasetype, t.typnamespace, a.depth + 1
		  FROM a JOIN pg_type t ON t.oid = a.typbasetype
		 WHERE a.typtype = 'd' AND a.depth < 16
	)
	SELECT CASE
			 WHEN b.typtype <> 'b' THEN NULL
			 WHEN b.oid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN 'time'
			 WHEN b.oid IN ('numeric'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN 'number'
			 WHEN b.oid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype) THEN 'text'
			 WHEN b.oid = 'bool'::regtype THEN 'boolean'
			 WHEN b.typnamespace = 'finsec'::regnamespace AND b.oid = 'finsec.money'::regtype THEN 'money'
			 WHEN b.typnamespace = 'finsec'::regnamespace THEN 'finsec'
		   END
	  FROM (SELECT * FROM a ORDER BY depth DESC LIMIT 1) b
$$;
REVOKE ALL ON FUNCTION finsec._report_column_class(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_column_class(regclass, text) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The registered payments tables (finsec.limit_table, risk_table,
 * monitor_table, by relid) and the columns their mappings name: the time
 * (limits' posted_at, else risk's or the monitor's), the amount, the kind
 * and reversal kinds (limits), the currency (risk, monitor), the account
 * (else the customer), the status (monitor), the payment id and the
 * reversal reference (limits).  Needs SELECT on the three registries
 * (finsec_admin, finsec_auditor, finsec_operator).
 */
CREATE FUNCTION finsec._report_payment_tables(
	OUT relid regclass, OUT time_col text, OUT amount_col text, OUT kind_col text,
	OUT reversal_kinds text[], OUT exempt_kinds text[], OUT currency_col text,
	OUT account_col text, OUT customer_col text, OUT status_col text,
	OUT payment_id_col text, OUT reversal_col text, OUT card_col text, OUT counterparty_col text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.relid,
		   coalesce(l.time_column, k.posted_at_column, m.posted_at_column),
		   coalesce(l.amount_column, k.amount_column, m.amount_column),
		   l.kind_column,
		   coalesce(l.reversal_kinds, '{}'), coalesce(l.exempt_kinds, '{}'),
		   coalesce(k.currency_column, m.currency_column),
		   coalesce(l.account_column, k.account_column, m.account_column),
		   coalesce(l.customer_column, k.customer_column, m.customer_column),
		   m.status_column,
		   l.payment_id_column, l.reversal_column,
		   k.card_column,
		   coalesce(l.counterparty_column, k.counterparty_column, m.counterparty_column)
	  FROM (SELECT t.relid FROM finsec.limit_table t
			UNION SELECT t.relid FROM finsec.risk_table t
			UNION SELECT t.relid FROM finsec.monitor_table t) r
	  LEFT JOIN finsec.limit_table l ON l.relid = r.relid
	  LEFT JOIN finsec.risk_table k ON k.relid = r.relid
	  LEFT JOIN finsec.monitor_table m ON m.relid = r.relid
	 ORDER BY r.relid::text
$$;
REVOKE ALL ON FUNCTION finsec._report_payment_tables() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_payment_tables() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Why the caller cannot read a registered table for a report (NULL: it
 * can): not an ordinary or partitioned table, a mapped column missing or
 * of another type than the report reads, or no SELECT on a column it
 * needs.  cols: column names, classes: the class each must have (NULL
 * entries skipped).
 */
CREATE FUNCTION finsec._report_unreadable(rel regclass, cols text[], classes text[])
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	i integer;
	c text;
BEGIN
	IF rel IS NULL OR (SELECT relkind FROM pg_class WHERE oid = rel) IS DISTINCT FROM 'r'
	   AND (SELECT relkind FROM pg_class WHERE oid = rel) IS DISTINCT FROM 'p' THEN
		RETURN 'not_a_table';
	END IF;
	-- a partitioned table is read with its partitions: a foreign one would
	-- run its wrapper (a user mapping's connection) as the caller
	IF EXISTS (SELECT 1 FROM pg_partition_tree(rel) p JOIN pg_class c ON c.oid = p.relid
				WHERE c.relkind NOT IN ('r', 'p')) THEN
		RETURN 'a partition is a foreign table';
	END IF;
	FOR i IN 1 .. coalesce(array_length(cols, 1), 0) LOOP
		CONTINUE WHEN cols[i] IS NULL;
		c := finsec._report_column_class(rel, cols[i]);
		IF c IS NULL OR (classes[i] IS NOT NULL AND NOT c = ANY (string_to_array(classes[i], '|'))) THEN
			RETURN format('column %s is missing or of a type the report does not read', quote_ident(cols[i]));
		END IF;
		IF NOT has_column_privilege(rel, cols[i], 'SELECT') THEN
			RETURN format('no SELECT privilege on column %s', quote_ident(cols[i]));
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION finsec._report_unreadable(regclass, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_unreadable(regclass, text[], text[]) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * ---- report_business: from the registered payments tables ----
 * Each payment is classed by its kind (limits' kind column): a reversal
 * kind of the table, or a kind containing refund/reversal/chargeback, is a
 * refund; one containing settle a settlement, withdraw a withdrawal,
 * transfer a transfer; every other kind, and every payment of a table
 * without a kind column, a payment.  Amounts are summed per currency: a
 * finsec.money column with finsec's exact sum, a numeric or integer one
 * exactly as numeric in the mapped currency column's currency, or CNY when
 * the table maps none (as the monitor does).  accounts_registered counts
 * the accounts (else customers) whose first payment in the table falls in
 * the period; accounts_active those with a payment in it.  A table the
 * caller cannot read (or a column of another type) makes every figure's
 * total NULL with unit cannot_read, with one unreadable_table row naming
 * the table and the reason in its label; no daily rows are given then.
 */
CREATE FUNCTION finsec.report_business("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL,
	tables regclass[] DEFAULT NULL)
RETURNS TABLE (figure text, label text, day date, dimension text, value numeric, unit text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET row_security = off
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	tz text := finsec._report_tz();
	t record;
	why text;
	src text;
	tcol text;
	kexpr text;
	cexpr text;
	aexpr text;
	acct text;
	acc jsonb := '[]';
	part jsonb;
	bad jsonb := '[]';
	counts text[] := ARRAY['accounts_registered', 'payments', 'settlements', 'transfers', 'withdrawals', 'refunds'];
	f text;
BEGIN
	IF NOT (has_table_privilege('finsec.limit_table', 'SELECT') AND has_table_privilege('finsec.risk_table', 'SELECT')
			AND has_table_privilege('finsec.monitor_table', 'SELECT')) THEN
		bad := jsonb_build_array(jsonb_build_object('table', 'finsec.limit_table', 'reason', 'no SELECT privilege on the registries of payments tables'));
	ELSE
		bad := bad || coalesce((SELECT jsonb_agg(jsonb_build_object('table', x::text, 'reason', 'not a registered payments table'))
								  FROM unnest(tables) x
								 WHERE x IS NULL OR x NOT IN (SELECT r.relid FROM finsec._report_payment_tables() r)), '[]');
		FOR t IN SELECT * FROM finsec._report_payment_tables() r WHERE tables IS NULL OR r.relid = ANY (tables) LOOP
			why := finsec._report_unreadable(t.relid,
				ARRAY[t.time_col, t.amount_col, t.kind_col, t.currency_col, coalesce(t.account_col, t.customer_col)],
				ARRAY['time', 'number|money', 'text', 'text', 'text|number|finsec']);
			IF why IS NULL AND t.time_col IS NULL THEN
				why := 'no time column is mapped';
			END IF;
			IF why IS NOT NULL THEN
				bad := bad || jsonb_build_object('table', t.relid::text, 'reason', why);
				CONTINUE;
			END IF;
			src := format('%s %s t', CASE WHEN (SELECT relkind FROM pg_class WHERE oid = t.relid) = 'r' THEN 'ONLY' ELSE '' END,
						  t.relid::text);
			tcol := format('t.%I::timestamptz', t.time_col);
			kexpr := CASE WHEN t.kind_col IS NULL THEN '''payments'''
						  ELSE format($k$CASE WHEN t.%1$I IS NULL THEN 'payments'
							   WHEN t.%1$I::text = ANY ($3) OR lower(t.%1$I::text) ~ '(refund|reversal|chargeback)' THEN 'refunds'
							   WHEN lower(t.%1$I::text) ~ 'settle' THEN 'settlements'
							   WHEN lower(t.%1$I::text) ~ 'withdraw' THEN 'withdrawals'
							   WHEN lower(t.%1$I::text) ~ 'transfer' THEN 'transfers'
							   ELSE 'payments' END$k$, t.kind_col) END;
			IF finsec._report_column_class(t.relid, t.amount_col) = 'money' THEN
				cexpr := format('finsec.currency(t.%I)', t.amount_col);
				aexpr := format('finsec.amount(sum(t.%I))', t.amount_col);
			ELSE
				cexpr := CASE WHEN t.currency_col IS NULL THEN '''CNY'''
							  ELSE format('coalesce(t.%I::text, ''CNY'')', t.currency_col) END;
				aexpr := format('sum(t.%I::numeric)', t.amount_col);
			END IF;
			acct := coalesce(t.account_col, t.customer_col);
			BEGIN
				EXECUTE format($q$
					SELECT coalesce(jsonb_agg(jsonb_build_object('day', g.day, 'figure', g.fig, 'cur', g.cur, 'n', g.n, 'amount', g.amount)), '[]')
					  FROM (SELECT (%1$s AT TIME ZONE $4)::date AS day, %2$s AS fig, %3$s AS cur, count(*) AS n, %4$s AS amount
							  FROM %5$s
							 WHERE %1$s >= $1 AND %1$s < $2
							 GROUP BY 1, 2, 3) g$q$,
					tcol, kexpr, cexpr, aexpr, src)
					INTO part USING "from", "to", t.reversal_kinds, tz;
				acc := acc || part;
				-- first payment of each account in this table, and accounts active in the period
				EXECUTE format($q$
					SELECT coalesce(jsonb_agg(jsonb_build_object('day', g.day, 'figure', 'accounts_registered', 'n', g.n)), '[]')
					  FROM (SELECT (f AT TIME ZONE $3)::date AS day, count(*) AS n
							  FROM (SELECT min(%1$s) AS f FROM %2$s WHERE %1$s < $2 AND t.%3$I IS NOT NULL GROUP BY t.%3$I) s
							 WHERE f >= $1 GROUP BY 1) g$q$, tcol, src, acct)
					INTO part USING "from", "to", tz;
				acc := acc || part;
				EXECUTE format($q$
					SELECT jsonb_build_array(jsonb_build_object('figure', 'accounts_active', 'n', count(DISTINCT t.%3$I)))
					  FROM %2$s WHERE %1$s >= $1 AND %1$s < $2$q$, tcol, src, acct)
					INTO part USING "from", "to";
				acc := acc || part;
			EXCEPTION WHEN insufficient_privilege THEN
				bad := bad || jsonb_build_object('table', t.relid::text, 'reason', 'row-level security or a privilege refused the read');
			END;
		END LOOP;
	END IF;

	IF jsonb_array_length(bad) > 0 THEN
		FOREACH f IN ARRAY counts || ARRAY['accounts_active', 'payments_amount', 'settlements_amount', 'transfers_amount',
										   'withdrawals_amount', 'refunds_amount'] LOOP
			RETURN QUERY SELECT f, finsec.report_label(f, l), NULL::date, NULL::text, NULL::numeric, 'cannot_read'::text;
		END LOOP;
		RETURN QUERY SELECT 'unreadable_table'::text, finsec.report_label('unreadable_table', l) || ': ' || (b ->> 'reason'),
							NULL::date, b ->> 'table', NULL::numeric, 'cannot_read'::text
					   FROM jsonb_array_elements(bad) b;
		RETURN;
	END IF;

	-- one pass over the accumulated cells: totals, every day of every count figure, amounts per currency
	RETURN QUERY
		WITH c AS MATERIALIZED (
			SELECT x.day, x.figure, x.cur, x.n, x.amount
			  FROM jsonb_to_recordset(acc) AS x(day date, figure text, cur text, n numeric, amount numeric)),
		 fig AS (SELECT f.name, f.ord FROM unnest(counts) WITH ORDINALITY AS f(name, ord)),
		 days AS (SELECT d.d FROM finsec._report_days("from", "to") d(d)),
		 daily AS (SELECT c.figure, c.day, sum(c.n) AS n FROM c WHERE c.day IS NOT NULL GROUP BY 1, 2),
		 amounts AS (SELECT c.figure, c.cur, sum(c.amount) AS amount FROM c
					  WHERE c.figure <> ALL (ARRAY['accounts_registered', 'accounts_active']) GROUP BY 1, 2)
		SELECT r.figure, finsec.report_label(r.figure, l), r.day, r.dimension, r.value, r.unit
		  FROM (SELECT fig.name AS figure, NULL::date AS day, NULL::text AS dimension,
					   coalesce((SELECT sum(c.n) FROM c WHERE c.figure = fig.name), 0) AS value,
					   'count'::text AS unit, fig.ord AS o1, 0 AS o2, NULL::date AS o3, NULL::text AS o4
				  FROM fig
				UNION ALL
				SELECT fig.name, days.d, NULL, coalesce(daily.n, 0), 'count', fig.ord, 1, days.d, NULL
				  FROM fig CROSS JOIN days
				  LEFT JOIN daily ON daily.figure = fig.name AND daily.day = days.d
				UNION ALL
				SELECT 'accounts_active', NULL, NULL,
					   coalesce((SELECT sum(c.n) FROM c WHERE c.figure = 'accounts_active'), 0), 'count', 7, 0, NULL, NULL
				UNION ALL
				SELECT fig.name || '_amount', NULL, a.cur, coalesce(a.amount, 0), 'amount', 7 + fig.ord, 0, NULL, a.cur
				  FROM fig LEFT JOIN amounts a ON a.figure = fig.name
				 WHERE fig.name <> 'accounts_registered') r
		 ORDER BY r.o1, r.o2, r.o3, r.o4;
END
$$;
COMMENT ON FUNCTION finsec.report_business(timestamptz, timestamptz, text, regclass[]) IS
	'business figures of [from, to) from the registered payments tables (or those of tables), read as the caller: accounts registered and active, payments, settlements, transfers, withdrawals, refunds (daily), their amounts per currency; cannot_read where the caller cannot read a table';
REVOKE ALL ON FUNCTION finsec.report_business(timestamptz, timestamptz, text, regclass[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_business(timestamptz, timestamptz, text, regclass[]) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * ---- report_access_review (004 9.3 d): one row per login role ----
 * From finsec.role_inventory() (SECURITY DEFINER, reads pg_authid, never a
 * password or hash; finsec_admin, finsec_auditor), finsec.role_last_login()
 * where it exists, finsec.role_suspension and the ledger's privilege
 * changes of the period that name the role (object, or the target of a
 * change request, or detail.role).  A source the caller cannot read leaves
 * its columns NULL and says so in findings (cannot_read_...); without
 * role_inventory the report is one row, role NULL, findings
 * {cannot_read_role_inventory}.
 */
CREATE FUNCTION finsec.report_access_review("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS TABLE (role name, duties name[], superuser boolean, createrole boolean, bypassrls boolean,
			   replication boolean, valid_until timestamptz, password_changed_at timestamptz,
			   password_age_days integer, last_login_at timestamptz, locked boolean, suspended boolean,
			   privilege_changes bigint, findings text[])
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	inactive interval := coalesce(nullif(current_setting('finsec.compliance_inactive_after', true), '')::interval,
								  interval '90 days');
	can_login boolean := to_regprocedure('finsec.role_last_login()') IS NOT NULL
						 AND has_function_privilege('finsec.role_last_login()', 'EXECUTE');
	can_audit boolean := has_table_privilege('finsec.audit', 'SELECT');
	can_susp boolean := has_table_privilege('finsec.role_suspension', 'SELECT');
	logins jsonb := '{}';
	changes jsonb := '{}';
	since timestamptz;
	r record;
	f text[];
	ll timestamptz;
	n bigint;
	s boolean;
BEGIN
	IF NOT has_function_privilege('finsec.role_inventory()', 'EXECUTE') THEN
		RETURN QUERY SELECT NULL::name, NULL::name[], NULL::boolean, NULL::boolean, NULL::boolean, NULL::boolean,
							NULL::timestamptz, NULL::timestamptz, NULL::integer, NULL::timestamptz, NULL::boolean,
							NULL::boolean, NULL::bigint, ARRAY['cannot_read_role_inventory'];
		RETURN;
	END IF;
	-- privilege changes of the period by the role they name (one pass over the ledger's period)
	IF can_audit THEN
		SELECT coalesce(jsonb_object_agg(c.name, c.n), '{}') INTO changes
		  FROM (SELECT k.name, count(DISTINCT a.finsec_seq) AS n
				  FROM finsec.audit a
				 CROSS JOIN LATERAL (VALUES (a.object), (split_part(a.object, ':', 2)), (a.detail ->> 'role')) k(name)
				 WHERE a.event_time >= "from" AND a.event_time < "to"
				   AND finsec._report_privilege_event(a.event_type)
				   AND k.name IS NOT NULL AND k.name <> ''
				 GROUP BY k.name) c;
	END IF;
	IF can_login THEN
		EXECUTE 'SELECT coalesce(jsonb_object_agg(x.role, x.last_login_at), ''{}''), min(x.recording_since)'
				' FROM finsec.role_last_login() x'
			INTO logins, since;
	END IF;
	FOR r IN SELECT i.*,
					ARRAY(SELECT g.rolname FROM pg_roles g
						   WHERE g.rolname IN ('finsec_admin', 'finsec_auditor', 'finsec_operator', 'finsec_app',
											   'finsec_unmask', 'finsec_research')
							 AND pg_has_role(i.role, g.oid, 'MEMBER')
						   ORDER BY g.rolname)::name[] AS d
			   FROM finsec.role_inventory() i ORDER BY i.role LOOP
		f := '{}';
		ll := NULL;
		IF can_login THEN
			ll := (logins ->> r.role::text)::timestamptz;
			IF (ll IS NOT NULL AND ll < now() - inactive) OR (ll IS NULL AND since IS NOT NULL AND since < now() - inactive) THEN
				f := f || 'inactive'::text;
			ELSIF ll IS NULL THEN
				f := f || 'no_login_recorded'::text;
			END IF;
		ELSE
			f := f || 'cannot_read_last_login'::text;
		END IF;
		IF r.d @> '{finsec_admin,finsec_auditor}' OR r.d @> '{finsec_admin,finsec_unmask}'
		   OR r.d @> '{finsec_auditor,finsec_operator}' OR r.d @> '{finsec_admin,finsec_app}' THEN
			f := f || 'conflicting_duties'::text;
		END IF;
		IF r.superuser THEN f := f || 'superuser'::text; END IF;
		IF r.createrole THEN f := f || 'createrole'::text; END IF;
		IF r.bypassrls THEN f := f || 'bypassrls'::text; END IF;
		IF r.has_password AND r.valid_until IS NULL THEN f := f || 'no_expiry'::text; END IF;
		IF r.password_expired THEN f := f || 'password_expired'::text; END IF;
		IF r.locked_until IS NOT NULL AND r.locked_until > now() THEN f := f || 'locked'::text; END IF;
		s := NULL;
		IF can_susp THEN
			s := EXISTS (SELECT 1 FROM finsec.role_suspension x WHERE x.roleid = (SELECT oid FROM pg_roles WHERE rolname = r.role)
							AND x.lifted_at IS NULL);
			IF s THEN f := f || 'suspended'::text; END IF;
		ELSE
			f := f || 'cannot_read_role_suspension'::text;
		END IF;
		n := NULL;
		IF can_audit THEN
			n := coalesce((changes ->> r.role::text)::bigint, 0);
			IF n > 0 THEN f := f || 'privilege_changed'::text; END IF;
		ELSE
			f := f || 'cannot_read_audit'::text;
		END IF;
		RETURN QUERY SELECT r.role, r.d, r.superuser, r.createrole, r.bypassrls, r.replication, r.valid_until,
							r.password_changed_at,
							CASE WHEN r.password_changed_at IS NULL THEN NULL
								 ELSE extract(day FROM now() - r.password_changed_at)::integer END,
							ll, r.locked_until IS NOT NULL AND r.locked_until > now(), s, n, f;
	END LOOP;
END
$$;
COMMENT ON FUNCTION finsec.report_access_review(timestamptz, timestamptz, text) IS
	'access review (004 9.3 d): every login role with its finsec duties, attributes, expiry, password age, last login, lock, suspension, privilege changes of [from, to) and findings';
REVOKE ALL ON FUNCTION finsec.report_access_review(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_access_review(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

/*
 * ---- report_data_quality (Q1, 001 10.1): per registered payments table ----
 * Reads at most max_rows rows of the period per table and measure (the
 * first the scan returns, not a random sample; detail.bounded says when
 * the limit was reached), as the caller.
 *   completeness: NULLs in each mapped column (time, amount, customer,
 *     account, currency, kind);
 *   accuracy: text columns holding identifiers failing their check digits:
 *     the risk mapping's card column (Luhn, finsec.is_valid_bank_card), and
 *     mapped customer, account and counterparty columns whose name says
 *     what they hold (resident id: finsec.is_valid_cn_resident_id; uscc:
 *     finsec.is_valid_uscc; card: finsec.is_valid_bank_card); columns of
 *     finsec's identifier types are valid by construction (failing 0);
 *   consistency: reversals (limits' reversal column) whose original
 *     payment (payment id column) is not in the table;
 *   timeliness: delay from the event time (risk or monitor posted_at) to
 *     the time finsec posted it (limits' posted_at) when both are mapped
 *     and differ, and from the payment to the monitor's batch that read
 *     it; p50, p95, max in seconds.
 */
CREATE FUNCTION finsec._report_id_kind(col text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN lower($1) ~ '(resident|id_?no|id_?number|idcard|id_card|sfz|shenfen)' THEN 'cn_resident_id'
				WHEN lower($1) ~ '(uscc|credit_?code)' THEN 'uscc'
				WHEN lower($1) ~ '(card|pan)' THEN 'bank_card'
		   END
$$;
REVOKE ALL ON FUNCTION finsec._report_id_kind(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._report_id_kind(text) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec.report_data_quality("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL,
	max_rows integer DEFAULT 100000, tables regclass[] DEFAULT NULL)
RETURNS TABLE (table_name text, dimension text, measure text, checked bigint, failing bigint, ratio numeric, detail jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET row_security = off
AS $$
DECLARE
	l text := finsec._report_period("from", "to", lang);
	t record;
	src text;
	per text;
	why text;
	c text;
	k text;
	cls text;
	n bigint;
	bad bigint;
	j jsonb;
	cols text[];
	names text[] := ARRAY['time', 'amount', 'customer', 'account', 'currency', 'kind'];
	i integer;
BEGIN
	IF max_rows IS NULL OR max_rows < 1 OR max_rows > 100000000 THEN
		RAISE EXCEPTION 'max_rows of report_data_quality must be between 1 and 100000000'
			USING ERRCODE = 'S9Q45',
				  DETAIL = format('max_rows is %s.', coalesce(max_rows::text, 'NULL')),
				  HINT = 'Pass a bound on the rows read per table and measure, e.g. 100000.';
	END IF;
	IF NOT (has_table_privilege('finsec.limit_table', 'SELECT') AND has_table_privilege('finsec.risk_table', 'SELECT')
			AND has_table_privilege('finsec.monitor_table', 'SELECT')) THEN
		RETURN QUERY SELECT NULL::text, 'all'::text, 'cannot_read'::text, NULL::bigint, NULL::bigint, NULL::numeric,
							jsonb_build_object('reason', 'no SELECT privilege on the registries of payments tables',
											   'needs', 'finsec_admin, finsec_auditor or finsec_operator');
		RETURN;
	END IF;
	RETURN QUERY SELECT x::text, 'all'::text, 'cannot_read'::text, NULL::bigint, NULL::bigint, NULL::numeric,
						jsonb_build_object('reason', 'not a registered payments table',
										   'needs', 'finsec.enable_limits, enable_risk or enable_monitoring')
				   FROM unnest(tables) x
				  WHERE x IS NULL OR x NOT IN (SELECT r.relid FROM finsec._report_payment_tables() r);
	FOR t IN SELECT * FROM finsec._report_payment_tables() r WHERE tables IS NULL OR r.relid = ANY (tables) LOOP
		cols := ARRAY[t.time_col, t.amount_col, t.customer_col, t.account_col, t.currency_col, t.kind_col];
		why := finsec._report_unreadable(t.relid, cols || ARRAY[t.card_col, t.counterparty_col, t.payment_id_col, t.reversal_col],
										 NULL);
		IF why IS NULL AND t.time_col IS NULL THEN
			why := 'no time column is mapped';
		END IF;
		IF why IS NULL AND finsec._report_column_class(t.relid, t.time_col) <> 'time' THEN
			why := format('column %s is not a time', quote_ident(t.time_col));
		END IF;
		IF why IS NOT NULL THEN
			RETURN QUERY SELECT t.relid::text, 'all'::text, 'cannot_read'::text, NULL::bigint, NULL::bigint, NULL::numeric,
								jsonb_build_object('reason', why, 'needs', 'SELECT on the mapped columns');
			CONTINUE;
		END IF;
		src := format('%s %s t', CASE WHEN (SELECT relkind FROM pg_class WHERE oid = t.relid) = 'r' THEN 'ONLY' ELSE '' END,
					  t.relid::text);
		per := format('(SELECT * FROM %s WHERE t.%I::timestamptz >= $1 AND t.%I::timestamptz < $2 LIMIT $3) t',
					  src, t.time_col, t.time_col);
		BEGIN
			-- completeness
			FOR i IN 1 .. 6 LOOP
				CONTINUE WHEN cols[i] IS NULL;
				EXECUTE format('SELECT count(*), count(*) FILTER (WHERE t.%I IS NULL) FROM %s', cols[i], per)
					INTO n, bad USING "from", "to", max_rows;
				RETURN QUERY SELECT t.relid::text, 'completeness'::text, quote_ident(cols[i]), n, bad,
									CASE WHEN n > 0 THEN round(bad::numeric / n, 6) END,
									jsonb_build_object('mapped_as', names[i], 'bounded', n >= max_rows, 'max_rows', max_rows);
			END LOOP;
			-- accuracy
			FOREACH c IN ARRAY ARRAY[t.card_col, t.customer_col, t.account_col, t.counterparty_col] LOOP
				CONTINUE WHEN c IS NULL;
				cls := finsec._report_column_class(t.relid, c);
				k := CASE WHEN c = t.card_col THEN 'bank_card' ELSE finsec._report_id_kind(c) END;
				IF cls = 'finsec' THEN
					RETURN QUERY SELECT t.relid::text, 'accuracy'::text, quote_ident(c), NULL::bigint, 0::bigint, 0::numeric,
										jsonb_build_object('type', format_type((SELECT atttypid FROM pg_attribute
																				WHERE attrelid = t.relid AND attname = c), NULL),
														   'valid_by_construction', true);
					CONTINUE;
				END IF;
				CONTINUE WHEN k IS NULL OR cls IS DISTINCT FROM 'text';
				EXECUTE format('SELECT count(t.%1$I), count(*) FILTER (WHERE t.%1$I IS NOT NULL AND NOT finsec.%2$s(t.%1$I::text)) FROM %3$s',
							   c, CASE k WHEN 'bank_card' THEN 'is_valid_bank_card'
										 WHEN 'uscc' THEN 'is_valid_uscc' ELSE 'is_valid_cn_resident_id' END, per)
					INTO n, bad USING "from", "to", max_rows;
				RETURN QUERY SELECT t.relid::text, 'accuracy'::text, quote_ident(c), n, bad,
									CASE WHEN n > 0 THEN round(bad::numeric / n, 6) END,
									jsonb_build_object('identifier', k, 'bounded', n >= max_rows, 'max_rows', max_rows);
			END LOOP;
			-- consistency: reversals without their original
			IF t.payment_id_col IS NOT NULL AND t.reversal_col IS NOT NULL THEN
				IF finsec._report_column_class(t.relid, t.payment_id_col) IS DISTINCT FROM finsec._report_column_class(t.relid, t.reversal_col) THEN
					RETURN QUERY SELECT t.relid::text, 'consistency'::text, quote_ident(t.reversal_col), NULL::bigint, NULL::bigint,
										NULL::numeric, jsonb_build_object('reason', 'the payment id and reversal columns are of different types');
				ELSE
					EXECUTE format('SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM %5$s %1$s o WHERE o.%2$I = t.%3$I))'
								   ' FROM %4$s WHERE t.%3$I IS NOT NULL',
								   t.relid::text, t.payment_id_col, t.reversal_col, per,
								   CASE WHEN (SELECT relkind FROM pg_class WHERE oid = t.relid) = 'r' THEN 'ONLY' ELSE '' END)
						INTO n, bad USING "from", "to", max_rows;
					RETURN QUERY SELECT t.relid::text, 'consistency'::text, quote_ident(t.reversal_col), n, bad,
										CASE WHEN n > 0 THEN round(bad::numeric / n, 6) END,
										jsonb_build_object('references', quote_ident(t.payment_id_col), 'orphans', 'reversals whose original payment is not in the table',
														   'bounded', n >= max_rows, 'max_rows', max_rows);
				END IF;
			ELSE
				RETURN QUERY SELECT t.relid::text, 'consistency'::text, 'reversal_of'::text, 0::bigint, 0::bigint, NULL::numeric,
									jsonb_build_object('reason', 'the mapping names no payment id and reversal columns: nothing to check');
			END IF;
			-- timeliness: posting delay between two mapped times
			c := (SELECT coalesce(k2.posted_at_column, m2.posted_at_column)
					FROM (SELECT 1) x LEFT JOIN finsec.risk_table k2 ON k2.relid = t.relid
					LEFT JOIN finsec.monitor_table m2 ON m2.relid = t.relid);
			IF c IS NOT NULL AND c <> t.time_col AND finsec._report_column_class(t.relid, c) = 'time' THEN
				EXECUTE format('SELECT jsonb_build_object(''p50_s'', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 3),'
							   ' ''p95_s'', round(percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric, 3), ''max_s'', round(max(d)::numeric, 3),'
							   ' ''rows'', count(*)) FROM (SELECT extract(epoch FROM t.%1$I::timestamptz - t.%2$I::timestamptz) AS d FROM %3$s'
							   ' WHERE t.%2$I IS NOT NULL) s', t.time_col, c, per)
					INTO j USING "from", "to", max_rows;
				RETURN QUERY SELECT t.relid::text, 'timeliness'::text, 'posting_delay'::text, (j ->> 'rows')::bigint,
									NULL::bigint, NULL::numeric, j || jsonb_build_object('event_time', quote_ident(c), 'posted_time', quote_ident(t.time_col));
			ELSE
				RETURN QUERY SELECT t.relid::text, 'timeliness'::text, 'posting_delay'::text, 0::bigint, NULL::bigint, NULL::numeric,
									jsonb_build_object('reason', 'the mappings name one time column: no second time to compare');
			END IF;
		EXCEPTION WHEN insufficient_privilege THEN
			RETURN QUERY SELECT t.relid::text, 'all'::text, 'cannot_read'::text, NULL::bigint, NULL::bigint, NULL::numeric,
								jsonb_build_object('reason', 'row-level security or a privilege refused the read',
												   'needs', 'SELECT on the table without row-level security');
		END;
		-- timeliness: payment to the monitor's batch that read it
		IF has_table_privilege('finsec.monitor_event', 'SELECT') AND has_table_privilege('finsec.monitor_batch', 'SELECT') THEN
			SELECT jsonb_build_object('p50_s', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 3),
									  'p95_s', round(percentile_cont(0.95) WITHIN GROUP (ORDER BY d)::numeric, 3),
									  'max_s', round(max(d)::numeric, 3), 'rows', count(*))
			  INTO j
			  FROM (SELECT extract(epoch FROM b.finished_at - e.at) AS d
					  FROM finsec.monitor_table mt
					  JOIN finsec.monitor_event e ON e.table_id = mt.table_id
					  JOIN finsec.monitor_batch b ON b.batch_id = e.batch_id
					 WHERE mt.relid = t.relid AND e.at >= "from" AND e.at < "to" AND e.stamp IS NOT NULL
					 LIMIT max_rows) s;
			IF (j ->> 'rows')::bigint > 0 THEN
				RETURN QUERY SELECT t.relid::text, 'timeliness'::text, 'monitoring_delay'::text, (j ->> 'rows')::bigint,
									NULL::bigint, NULL::numeric, j;
			END IF;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION finsec.report_data_quality(timestamptz, timestamptz, text, integer, regclass[]) IS
	'data quality of the registered payments tables over [from, to) (Q1, 001 10.1): completeness, accuracy, consistency, timeliness; at most max_rows rows per table and measure, read as the caller';
REVOKE ALL ON FUNCTION finsec.report_data_quality(timestamptz, timestamptz, text, integer, regclass[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.report_data_quality(timestamptz, timestamptz, text, integer, regclass[]) TO finsec_admin, finsec_auditor;


/*
 * Check audit_analysis (004 7.5.7 f, U11): the ledger was analysed with
 * finsec.report_audit over a period of at least min_period_days (default
 * 28: a month) of the past, ending at most max_age_days before the
 * analysis, within the last max_age_days (default 31): an
 * audit.analysis event, which only finsec's own functions can write.
 * cannot_verify when the caller cannot read the ledger.
 */
CREATE FUNCTION finsec._check_audit_analysis(args jsonb, OUT status text, OUT evidence jsonb)
RETURNS record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_age integer;
	min_period integer;
	r record;
BEGIN
	BEGIN
		max_age := coalesce((args ->> 'max_age_days')::integer, 31);
		min_period := coalesce((args ->> 'min_period_days')::integer, 28);
	EXCEPTION WHEN OTHERS THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the check''s arguments are not whole numbers of days',
									   'needs', 'args {"max_age_days": 31, "min_period_days": 28}', 'args', args);
		RETURN;
	END;
	IF NOT has_table_privilege('finsec.audit', 'SELECT') THEN
		status := 'cannot_verify';
		evidence := jsonb_build_object('reason', 'the caller cannot read the audit ledger finsec.audit',
									   'needs', 'membership in finsec_auditor');
		RETURN;
	END IF;
	SELECT a.event_time, a.db_user, a.detail INTO r
	  FROM finsec.audit a
	 WHERE a.event_type = 'audit.analysis' AND a.success
	   -- the period analysed: finite (an infinite one, recorded before
	   -- _report_record_analysis refused it, must not make the check
	   -- raise), at least min_period days of it before the analysis, and
	   -- ending within max_age days before it (an empty month of long ago
	   -- is no analysis of the ledger's recent events)
	   AND CASE WHEN a.detail ->> 'from' ~ 'infinity' OR a.detail ->> 'to' ~ 'infinity' THEN false
				ELSE least((a.detail ->> 'to')::timestamptz, a.event_time) - (a.detail ->> 'from')::timestamptz
						 >= make_interval(days => min_period)
					 AND (a.detail ->> 'to')::timestamptz >= a.event_time - make_interval(days => max_age) END
	 ORDER BY a.event_time DESC LIMIT 1;
	evidence := jsonb_build_object('max_age_days', max_age, 'min_period_days', min_period,
								   'last_analysis_at', r.event_time, 'analysed_by', quote_ident(r.db_user),
								   'period_from', r.detail -> 'from', 'period_to', r.detail -> 'to');
	status := CASE WHEN r.event_time IS NOT NULL AND r.event_time >= now() - make_interval(days => max_age)
				   THEN 'pass' ELSE 'fail' END;
END
$$;
COMMENT ON FUNCTION finsec._check_audit_analysis(jsonb) IS
	'compliance check: the audit ledger analysed (finsec.report_audit over a month) within the last month';
REVOKE ALL ON FUNCTION finsec._check_audit_analysis(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._check_audit_analysis(jsonb) TO finsec_admin, finsec_auditor;

INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin)
VALUES ('audit_analysis', 'finsec._check_audit_analysis(jsonb)', '审计数据每月分析', 'Audit data analysed monthly', true);
-- mapped onto the clauses of the catalog (section 1b) where they are there
INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin)
SELECT c.clause_id, 'audit_analysis', c.args::jsonb, true
  FROM (VALUES ('004:7.5.7f', '{"max_age_days": 31, "min_period_days": 28}'),
			   ('004:7.5.5b', '{"max_age_days": 31, "min_period_days": 28}')) c(clause_id, args)
 WHERE EXISTS (SELECT 1 FROM finsec.clause k WHERE k.clause_id = c.clause_id);

-- (end of section 5)



-- ---------------------------------------------------------------------
-- 6. The printable report (compliance_report_html) and compliance_json.
-- ---------------------------------------------------------------------

/*
 * Section 6 (docs/compliance.md): the printable report and the
 * report for tooling.  Everything here is SECURITY INVOKER: the page shows
 * what finsec.compliance_check() and the report functions show to the
 * caller (cannot_verify where the caller cannot see), nothing more.
 * Every value written into the page goes through finsec._html_escape().
 */

/*
 * HTML escaping of text content and attribute values: & < > " ' (NULL:
 * '').  It also writes the ':' of '://', the '(' of 'url(' and the '@' of
 * '@import' as character references (the same text on the page), so that
 * no value, even as harmless text, reads as a URL or a CSS import to a
 * scanner of the page (the tests assert there is none anywhere).
 */
CREATE FUNCTION finsec._html_escape(s text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(regexp_replace(regexp_replace(replace(
			replace(replace(replace(replace(replace(s, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;'),
			'://', '&#58;//'), '(url)\(', '\1&#40;', 'gi'), '@(import)', '&#64;\1', 'gi'), '')
$$;
COMMENT ON FUNCTION finsec._html_escape(text) IS
	'HTML-escapes & < > " and '' (and the : of ://, the ( of url(, the @ of @import); NULL gives the empty string; every value in compliance_report_html goes through it';
REVOKE ALL ON FUNCTION finsec._html_escape(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_escape(text) TO finsec_admin, finsec_auditor;

/*
 * A number for the page: digits grouped by three with ',' and '.' before
 * the fraction in both languages (the convention of Chinese financial
 * statements as of English ones).  NULL: '-'.
 */
CREATE FUNCTION finsec._html_num(v numeric, lang text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN v IS NULL THEN '-'
		   WHEN v = 'NaN'::numeric THEN 'NaN'
		   ELSE (CASE WHEN v < 0 THEN '-' ELSE '' END)
				|| regexp_replace(split_part(abs(v)::text, '.', 1), '(\d)(?=(\d{3})+$)', '\1,', 'g')
				|| CASE WHEN position('.' IN abs(v)::text) > 0
						THEN '.' || split_part(abs(v)::text, '.', 2) ELSE '' END
		   END
$$;
REVOKE ALL ON FUNCTION finsec._html_num(numeric, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_num(numeric, text) TO finsec_admin, finsec_auditor;

-- A date for the page: 2026年12月02日 (zh_CN) or 2026-12-02 (en).
CREATE FUNCTION finsec._html_date(d date, lang text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN d IS NULL THEN '-'
		   WHEN NOT isfinite(d) THEN d::text
		   WHEN lang = 'zh_CN' THEN to_char(d, 'YYYY"年"MM"月"DD"日"')
		   ELSE to_char(d, 'YYYY-MM-DD') END
$$;
REVOKE ALL ON FUNCTION finsec._html_date(date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_date(date, text) TO finsec_admin, finsec_auditor;

-- The statuses in the order of the page, with their labels and colours
-- (fills of distinct grey levels, so that a grey print still tells them
-- apart; the charts also write each status's letter and count).
CREATE FUNCTION finsec._compliance_statuses(OUT ord int, OUT status text, OUT letter text,
											OUT label_zh text, OUT label_en text, OUT fill text, OUT ink text)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	VALUES (1, 'fail', 'F', '不符合', 'fail', '#8b1a1a', '#ffffff'),
		   (2, 'warn', 'W', '警告', 'warn', '#f7ca45', '#000000'),
		   (3, 'cannot_verify', 'C', '无法验证', 'cannot verify', '#7e57c2', '#ffffff'),
		   (4, 'pass', 'P', '符合', 'pass', '#3f9b5f', '#ffffff'),
		   (5, 'manual', 'M', '人工核查', 'manual', '#79a6dc', '#000000'),
		   (6, 'excluded', 'E', '已豁免', 'excluded', '#ffffff', '#000000'),
		   (7, 'out_of_scope', 'O', '不适用', 'out of scope', '#e0e0e0', '#000000')
$$;
REVOKE ALL ON FUNCTION finsec._compliance_statuses() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_statuses() TO finsec_admin, finsec_auditor;

/*
 * The SHA-256 of a run's check results, as printed in the page's footer
 * and returned by compliance_json: over the JSON array of
 * {clause_id, check_name, status, evidence} of every row, ordered by
 * clause_id and check_name (byte order), as jsonb writes it.  The
 * language of the texts does not enter it, so the Chinese and the English
 * page of the same state carry the same digest.
 */
CREATE FUNCTION finsec._compliance_digest(checks jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT encode(sha256(convert_to(coalesce(
		(SELECT jsonb_agg(jsonb_build_object('clause_id', e -> 'clause_id', 'check_name', e -> 'check_name',
											 'status', e -> 'status', 'evidence', e -> 'evidence')
						  ORDER BY e ->> 'clause_id' COLLATE "C", e ->> 'check_name' COLLATE "C")
		   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(checks) = 'array' THEN checks ELSE '[]' END) e),
		'[]'::jsonb)::text, 'UTF8')), 'hex')
$$;
REVOKE ALL ON FUNCTION finsec._compliance_digest(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_digest(jsonb) TO finsec_admin, finsec_auditor;

/*
 * The catalog's version: finsec's version, the counts of clauses (built-in
 * and the customer's), checks and mappings, and a SHA-256 of the catalog's
 * content (clause ids, kinds, requirement texts, mappings and their
 * arguments), so that two reports say whether they judged by the same
 * catalog.  cannot_verify (with the reason) for a caller who cannot read
 * the catalog tables.
 */
CREATE FUNCTION finsec._compliance_catalog_info()
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r jsonb;
BEGIN
	IF NOT (has_table_privilege('finsec.clause', 'SELECT')
			AND has_table_privilege('finsec.clause_check', 'SELECT')
			AND has_table_privilege('finsec.compliance_check_def', 'SELECT')) THEN
		RETURN jsonb_build_object('status', 'cannot_verify',
								  'reason', 'the caller cannot read the clause catalog',
								  'needs', 'SELECT on finsec.clause, finsec.clause_check, finsec.compliance_check_def (finsec_auditor or finsec_admin)');
	END IF;
	SELECT jsonb_build_object(
			'finsec_version', (SELECT e.extversion FROM pg_extension e WHERE e.extname = 'finsec'),
			'clauses', (SELECT count(*) FROM finsec.clause),
			'clauses_builtin', (SELECT count(*) FROM finsec.clause c WHERE c.builtin),
			'clauses_customer', (SELECT count(*) FROM finsec.clause c WHERE NOT c.builtin),
			'automated', (SELECT count(*) FROM finsec.clause c WHERE c.kind = 'automated'),
			'manual', (SELECT count(*) FROM finsec.clause c WHERE c.kind = 'manual'),
			'checks', (SELECT count(*) FROM finsec.compliance_check_def),
			'mappings', (SELECT count(*) FROM finsec.clause_check),
			'standards', (SELECT coalesce(jsonb_agg(DISTINCT c.standard), '[]') FROM finsec.clause c),
			'sha256', encode(sha256(convert_to(
				coalesce((SELECT string_agg(concat_ws(E'\x1f', c.clause_id, c.standard, c.clause, c.kind,
														c.requirement_zh, c.requirement_en, c.builtin::text),
											 E'\x1e' ORDER BY c.clause_id COLLATE "C")
						   FROM finsec.clause c), '')
				|| E'\x1d' ||
				coalesce((SELECT string_agg(concat_ws(E'\x1f', cc.clause_id, cc.check_name, cc.args::text,
														d.function::text, cc.builtin::text),
											 E'\x1e' ORDER BY cc.clause_id COLLATE "C", cc.check_name COLLATE "C")
						   FROM finsec.clause_check cc JOIN finsec.compliance_check_def d USING (check_name)), ''),
				'UTF8')), 'hex'))
	  INTO r;
	RETURN r;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_catalog_info() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_catalog_info() TO finsec_admin, finsec_auditor;

/*
 * The checks of a run as a JSON array (one object per row of
 * finsec.compliance_check(standard, lang), ordered by clause_id and
 * check_name), the input of both reports.
 */
CREATE FUNCTION finsec._compliance_rows(standard text, lang text)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object(
				'clause_id', r.clause_id, 'standard', r.standard, 'clause', r.clause,
				'check_name', r.check_name, 'requirement', r.requirement, 'status', r.status,
				'evidence', r.evidence, 'remediation', r.remediation)
			ORDER BY r.clause_id COLLATE "C", r.check_name COLLATE "C"), '[]'::jsonb)
	  FROM finsec.compliance_check(_compliance_rows.standard, _compliance_rows.lang) r
$$;
REVOKE ALL ON FUNCTION finsec._compliance_rows(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_rows(text, text) TO finsec_admin, finsec_auditor;

/*
 * Inline SVG: one stacked horizontal bar per standard, a segment per
 * status (colour, and the status's letter and count written in it when
 * it is wide enough), a legend with each status's name, letter and colour.
 * summary: [{"standard": ..., "status": ..., "n": ...}, ...].  At most 30
 * standards are drawn (the table lists them all).
 */
CREATE FUNCTION finsec._html_svg_status_chart(summary jsonb, lang text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	zh boolean := coalesce(lang, 'zh_CN') = 'zh_CN';
	label_w int := 170;
	plot_w int := 480;
	bar_h int := 22;
	gap int := 10;
	top int := 34;
	std record;
	seg record;
	maxn numeric;
	x numeric;
	w numeric;
	y int;
	i int := 0;
	lx int;
	body text := '';
	legend text := '';
	h int;
BEGIN
	IF summary IS NULL OR jsonb_typeof(summary) <> 'array' THEN
		summary := '[]';
	END IF;
	SELECT max(t.n) INTO maxn FROM (
		SELECT sum((e ->> 'n')::numeric) AS n FROM jsonb_array_elements(summary) e GROUP BY e ->> 'standard') t;
	maxn := greatest(coalesce(maxn, 0), 1);
	FOR std IN
		SELECT (e ->> 'standard') COLLATE "C" AS standard, sum((e ->> 'n')::numeric) AS n
		  FROM jsonb_array_elements(summary) e
		 GROUP BY 1 ORDER BY 1 LIMIT 30
	LOOP
		y := top + i * (bar_h + gap);
		body := body || format('<text x="%s" y="%s" class="lbl" text-anchor="end">%s</text>',
							   label_w - 6, y + bar_h / 2 + 4,
							   finsec._html_escape(CASE WHEN length(std.standard) > 24
														THEN left(std.standard, 23) || '…' ELSE std.standard END));
		x := label_w;
		FOR seg IN
			SELECT s.status, s.letter, s.fill, s.ink, s.label_zh, s.label_en, sum((e ->> 'n')::numeric) AS n
			  FROM jsonb_array_elements(summary) e
			  JOIN finsec._compliance_statuses() s ON s.status = e ->> 'status'
			 WHERE e ->> 'standard' IS NOT DISTINCT FROM std.standard
			 GROUP BY s.ord, s.status, s.letter, s.fill, s.ink, s.label_zh, s.label_en
			HAVING sum((e ->> 'n')::numeric) > 0
			 ORDER BY s.ord
		LOOP
			w := round(plot_w * seg.n / maxn, 1);
			body := body || format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#000000" stroke-width="0.6"%s><title>%s: %s %s</title></rect>',
								   x, y, w, bar_h, seg.fill,
								   CASE WHEN seg.status = 'excluded' THEN ' stroke-dasharray="3 2"' ELSE '' END,
								   finsec._html_escape(std.standard),
								   finsec._html_escape(CASE WHEN zh THEN seg.label_zh ELSE seg.label_en END),
								   finsec._html_num(seg.n, lang));
			IF w >= 8 * (length(seg.n::text) + 1) + 4 THEN
				body := body || format('<text x="%s" y="%s" class="seg" text-anchor="middle" fill="%s">%s</text>',
									   x + w / 2, y + bar_h / 2 + 4, seg.ink,
									   finsec._html_escape(seg.letter || seg.n::text));
			END IF;
			x := x + w;
		END LOOP;
		body := body || format('<text x="%s" y="%s" class="lbl">%s</text>', x + 5, y + bar_h / 2 + 4,
							   finsec._html_num(std.n, lang));
		i := i + 1;
	END LOOP;
	IF i = 0 THEN
		body := format('<text x="%s" y="%s" class="lbl">%s</text>', 10, top + 14,
					   CASE WHEN zh THEN '（无检查结果）' ELSE '(no check results)' END);
		i := 1;
	END IF;
	-- Legend, under the bars.
	y := top + i * (bar_h + gap) + 8;
	lx := 10;
	FOR seg IN SELECT * FROM finsec._compliance_statuses() ORDER BY ord
	LOOP
		legend := legend || format('<rect x="%s" y="%s" width="14" height="14" fill="%s" stroke="#000000" stroke-width="0.6"%s/>'
								   '<text x="%s" y="%s" class="leg">%s %s</text>',
								   lx, y, seg.fill,
								   CASE WHEN seg.status = 'excluded' THEN ' stroke-dasharray="3 2"' ELSE '' END,
								   lx + 18, y + 11, finsec._html_escape(seg.letter),
								   finsec._html_escape(CASE WHEN zh THEN seg.label_zh ELSE seg.label_en END));
		lx := lx + CASE WHEN zh THEN 92 ELSE 104 END;
	END LOOP;
	h := y + 26;
	RETURN format('<svg class="chart" role="img" width="%s" height="%s" viewBox="0 0 %s %s" aria-label="%s">'
				  '<text x="10" y="18" class="ttl">%s</text>%s%s</svg>',
				  760, h, 760, h,
				  finsec._html_escape(CASE WHEN zh THEN '各标准检查结果' ELSE 'Check results by standard' END),
				  finsec._html_escape(CASE WHEN zh THEN '各标准检查结果（条数）' ELSE 'Check results by standard (count)' END),
				  body, legend);
END
$$;
REVOKE ALL ON FUNCTION finsec._html_svg_status_chart(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_svg_status_chart(jsonb, text) TO finsec_admin, finsec_auditor;

/*
 * Inline SVG: a bar per day from d_from to d_to (inclusive, at most 400
 * days), series {"YYYY-MM-DD": value, ...} (a missing day is 0), the
 * maximum and half of it on the axis, day labels every few days, each
 * bar's value written above it when the bars are wide enough.
 */
CREATE FUNCTION finsec._html_svg_daily(title text, series jsonb, d_from date, d_to date, lang text, fill text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ml int := 70;
	mt int := 30;
	pw int := 660;
	ph int := 150;
	n int;
	bw numeric;
	maxv numeric;
	step int;
	d date;
	v numeric;
	k int := 0;
	bh numeric;
	body text := '';
	col text := CASE WHEN fill ~ '^#[0-9a-fA-F]{6}$' THEN fill ELSE '#4a6fa5' END;
BEGIN
	IF d_from IS NULL OR d_to IS NULL OR NOT isfinite(d_from) OR NOT isfinite(d_to) OR d_to < d_from THEN
		RETURN '';
	END IF;
	IF series IS NULL OR jsonb_typeof(series) <> 'object' THEN
		series := '{}';
	END IF;
	n := least(d_to - d_from + 1, 400);
	bw := pw::numeric / n;
	SELECT max(CASE WHEN jsonb_typeof(value) = 'number' THEN value::text::numeric END) INTO maxv
	  FROM jsonb_each(series);
	maxv := CASE WHEN coalesce(maxv, 0) <= 0 THEN 1 ELSE maxv END;
	step := greatest(1, ceil(n / 10.0)::int);
	-- axes and the grid lines of 0, max/2 and max
	body := format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="ax"/>', ml, mt + ph, ml + pw, mt + ph)
		 || format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="ax"/>', ml, mt, ml, mt + ph)
		 || format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="grid"/>', ml, mt, ml + pw, mt)
		 || format('<line x1="%s" y1="%s" x2="%s" y2="%s" class="grid"/>', ml, mt + ph / 2, ml + pw, mt + ph / 2)
		 || format('<text x="%s" y="%s" class="lbl" text-anchor="end">%s</text>', ml - 4, mt + 4, finsec._html_num(maxv, lang))
		 || format('<text x="%s" y="%s" class="lbl" text-anchor="end">%s</text>', ml - 4, mt + ph / 2 + 4,
				   finsec._html_num(trim_scale(round(maxv / 2, 2)), lang))
		 || format('<text x="%s" y="%s" class="lbl" text-anchor="end">0</text>', ml - 4, mt + ph + 4);
	d := d_from;
	WHILE k < n LOOP
		v := CASE WHEN jsonb_typeof(series -> d::text) = 'number' THEN (series ->> d::text)::numeric ELSE 0 END;
		bh := round(ph * greatest(v, 0) / maxv, 1);
		body := body || format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#000000" stroke-width="0.4"><title>%s: %s</title></rect>',
							   round(ml + k * bw + bw * 0.1, 1), mt + ph - bh, round(bw * 0.8, 1), bh, col,
							   d::text, finsec._html_num(v, lang));
		IF bw >= 18 AND v <> 0 THEN
			body := body || format('<text x="%s" y="%s" class="val" text-anchor="middle">%s</text>',
								   round(ml + k * bw + bw / 2, 1), mt + ph - bh - 3, finsec._html_num(v, lang));
		END IF;
		IF k % step = 0 THEN
			body := body || format('<text x="%s" y="%s" class="lbl" text-anchor="middle">%s</text>',
								   round(ml + k * bw + bw / 2, 1), mt + ph + 16, to_char(d, 'MM-DD'));
		END IF;
		d := d + 1;
		k := k + 1;
	END LOOP;
	RETURN format('<svg class="chart" role="img" width="760" height="%s" viewBox="0 0 760 %s" aria-label="%s">'
				  '<text x="10" y="18" class="ttl">%s</text>%s</svg>',
				  mt + ph + 30, mt + ph + 30, finsec._html_escape(title), finsec._html_escape(title), body);
END
$$;
REVOKE ALL ON FUNCTION finsec._html_svg_daily(text, jsonb, date, date, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_svg_daily(text, jsonb, date, date, text, text) TO finsec_admin, finsec_auditor;

/*
 * The rows of a report function finsec.report_<name>(from, to, lang), as a
 * JSON array, or {"error": SQLSTATE, "message": ...} when it failed (the
 * caller lacks a privilege, ...), or NULL when the function does not exist.
 * Only the names below are called (the reports part's functions).
 */
CREATE FUNCTION finsec._html_report_rows(name text, "from" timestamptz, "to" timestamptz, lang text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r jsonb;
BEGIN
	IF name IS NULL OR name NOT IN ('business', 'limits', 'monitor', 'risk', 'audit', 'keys', 'credit') THEN
		RETURN NULL;
	END IF;
	-- finsec.report_<name>(timestamptz, timestamptz, text[, more with defaults])
	IF NOT EXISTS (SELECT 1 FROM pg_proc p
					WHERE p.pronamespace = 'finsec'::regnamespace AND p.proname = 'report_' || name
					  AND p.pronargs - p.pronargdefaults <= 3 AND p.pronargs >= 3
					  AND p.proargtypes[0] = 'timestamptz'::regtype AND p.proargtypes[1] = 'timestamptz'::regtype
					  AND p.proargtypes[2] = 'text'::regtype) THEN
		RETURN NULL;
	END IF;
	BEGIN
		EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(t)), ''[]'') FROM (SELECT figure, label, day, dimension, value, unit'
					   ' FROM finsec.%I($1::timestamptz, $2::timestamptz, $3::text) LIMIT 50000) t', 'report_' || name)
		   INTO r USING "from", "to", lang;
	EXCEPTION WHEN OTHERS THEN
		r := jsonb_build_object('error', SQLSTATE, 'message', left(SQLERRM, 300));
	END;
	RETURN r;
END
$$;
REVOKE ALL ON FUNCTION finsec._html_report_rows(text, timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_report_rows(text, timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

-- A daily series of one figure of a report's rows: {"YYYY-MM-DD": value};
-- the rows without dimension when there are such, else the sum over the
-- dimensions.
CREATE FUNCTION finsec._html_report_daily(rows jsonb, figure text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH d AS (
		SELECT e ->> 'day' AS day, e ->> 'dimension' AS dim,
			   CASE WHEN jsonb_typeof(e -> 'value') = 'number' THEN (e ->> 'value')::numeric END AS v
		  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(rows) = 'array' THEN rows ELSE '[]' END) e
		 WHERE e ->> 'figure' = _html_report_daily.figure AND e ->> 'day' IS NOT NULL
	), nodim AS (SELECT EXISTS (SELECT 1 FROM d WHERE dim IS NULL) AS b)
	SELECT coalesce(jsonb_object_agg(day, v), '{}')
	  FROM (SELECT d.day, sum(d.v) AS v FROM d, nodim
			 WHERE (nodim.b AND d.dim IS NULL) OR NOT nodim.b
			 GROUP BY d.day) s
$$;
REVOKE ALL ON FUNCTION finsec._html_report_daily(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_report_daily(jsonb, text) TO finsec_admin, finsec_auditor;

-- The period of the printable report: both ends given, finite, from
-- before to, at most 400 days (the daily charts).
CREATE FUNCTION finsec._html_period_check("from" timestamptz, "to" timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF "from" IS NULL THEN
		RAISE EXCEPTION 'argument "from" of finsec.compliance_report_html must not be NULL'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Give the start of the reported period.';
	END IF;
	IF "to" IS NULL THEN
		RAISE EXCEPTION 'argument "to" of finsec.compliance_report_html must not be NULL'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Give the end of the reported period.';
	END IF;
	IF NOT isfinite("from") OR NOT isfinite("to") OR "to" - "from" > interval '400 days' THEN
		RAISE EXCEPTION 'the reported period is longer than 400 days'
			USING ERRCODE = 'S9Q52', DETAIL = format('The period runs from %s to %s.', "from", "to"),
				  HINT = 'Report a year or less at a time.';
	END IF;
	IF "to" <= "from" THEN
		RAISE EXCEPTION 'the reported period ends before it starts'
			USING ERRCODE = 'S9Q51', DETAIL = format('The period runs from %s to %s.', "from", "to"),
				  HINT = 'Give "from" before "to".';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._html_period_check(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._html_period_check(timestamptz, timestamptz) TO finsec_admin, finsec_auditor;

/*
 * The page of one run's rows (checks: the JSON array of _compliance_rows),
 * so that the page and compliance_json of the same run can be compared;
 * compliance_report_html() is its public face.  Self-contained HTML5
 * (docs/compliance.md): no external resource, no script, a
 * Content-Security-Policy that forbids loading anything; print CSS for A4
 * with a page break between sections.
 */
CREATE FUNCTION finsec._compliance_html_page(checks jsonb, "from" timestamptz, "to" timestamptz, lang text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text;
	zh boolean;
	max_items constant int := 200;
	max_evidence constant int := 1500;
	max_text constant int := 2000;
	digest text;
	cat jsonb;
	summary jsonb;
	d_from date;
	d_to date;
	ver text;
	t_title text;
	period text;
	html text;
	sec text;
	n_fail int;
	n_shown int;
	rep record;
	rows jsonb;
	rep_rows jsonb := '{}';
	figures text := '';
	charts text := '';
	excl text;
	n_excl int;
	ledger record;
	ledger_note text;
	tz text;
BEGIN
	PERFORM finsec._html_period_check("from", "to");
	l := finsec._compliance_lang(lang);
	zh := l = 'zh_CN';
	-- The days of the reports: finsec's business time zone (the reports'
	-- finsec._report_tz()) where it exists, else the session's.
	IF to_regprocedure('finsec._report_tz()') IS NOT NULL THEN
		EXECUTE 'SELECT finsec._report_tz()' INTO tz;
	END IF;
	IF tz IS NOT NULL THEN
		d_from := ("from" AT TIME ZONE tz)::date;
		d_to := (("to" - interval '1 microsecond') AT TIME ZONE tz)::date;
	ELSE
		d_from := "from"::date;
		d_to := ("to" - interval '1 microsecond')::date;
	END IF;
	SELECT e.extversion INTO ver FROM pg_extension e WHERE e.extname = 'finsec';

	IF checks IS NULL OR jsonb_typeof(checks) <> 'array' THEN
		checks := '[]';
	END IF;
	digest := finsec._compliance_digest(checks);
	cat := finsec._compliance_catalog_info();
	-- The ledger row that compliance_check() wrote for this run (in this
	-- transaction), for the caller who can read the ledger.  No ledger row
	-- on a standby (and no transaction id to look for).
	IF has_table_privilege('finsec.audit', 'SELECT') THEN
		SELECT a.finsec_seq, a.event_time INTO ledger
		  FROM finsec.audit a
		 WHERE a.event_type = 'compliance.check' AND a.finsec_txid = pg_current_xact_id_if_assigned()
		   AND a.backend_pid = pg_backend_pid()
		 ORDER BY a.finsec_seq DESC LIMIT 1;
		ledger_note := CASE WHEN ledger.finsec_seq IS NULL
							THEN CASE WHEN zh THEN '（本次检查未记入审计日志）' ELSE '(this run is not in the audit ledger)' END
							ELSE format('finsec.audit finsec_seq = %s, event_time = %s', ledger.finsec_seq,
										to_char(ledger.event_time, 'YYYY-MM-DD HH24:MI:SS.US OF')) END;
	ELSE
		ledger_note := CASE WHEN zh THEN '（调用者无权读取审计日志 finsec.audit）' ELSE '(the caller cannot read the audit ledger finsec.audit)' END;
	END IF;
	SELECT coalesce(jsonb_agg(jsonb_build_object('standard', s.standard, 'status', s.status, 'n', s.n)
							  ORDER BY s.standard COLLATE "C", s.status), '[]')
	  INTO summary
	  FROM (SELECT e ->> 'standard' AS standard, e ->> 'status' AS status, count(*) AS n
			  FROM jsonb_array_elements(checks) e GROUP BY 1, 2) s;

	t_title := CASE WHEN zh THEN 'finsec 合规自查报告' ELSE 'finsec compliance self-check report' END;
	period := finsec._html_date(d_from, l) || ' - ' || finsec._html_date(d_to, l);

	html := '<!DOCTYPE html>' || E'\n'
		|| format('<html lang="%s">', CASE WHEN zh THEN 'zh-CN' ELSE 'en' END) || E'\n'
		|| '<head>' || E'\n'
		|| '<meta charset="utf-8">' || E'\n'
		|| '<meta http-equiv="Content-Security-Policy" content="default-src ''none''; style-src ''unsafe-inline''; img-src data:">' || E'\n'
		|| '<meta name="viewport" content="width=device-width, initial-scale=1">' || E'\n'
		|| format('<meta name="generator" content="finsec %s">', finsec._html_escape(ver)) || E'\n'
		|| format('<title>%s - %s - %s</title>', finsec._html_escape(t_title),
				  finsec._html_escape(current_database()), finsec._html_escape(period)) || E'\n'
		|| '<style>
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif;
       font-size: 10.5pt; line-height: 1.45; color: #111; background: #fff; margin: 0 auto; max-width: 190mm; padding: 8mm; }
h1 { font-size: 18pt; margin: 0 0 4mm 0; border-bottom: 2px solid #222; padding-bottom: 2mm; }
.subtitle { font-size: 12pt; margin: 0 0 4mm 0; }
h2 { font-size: 14pt; margin: 0 0 3mm 0; border-bottom: 1px solid #888; }
h3 { font-size: 11pt; margin: 3mm 0 1mm 0; }
section { margin-top: 8mm; }
section + section { break-before: page; page-break-before: always; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm 0; }
th, td { border: 1px solid #999; padding: 1mm 2mm; text-align: left; vertical-align: top; }
th { background: #eee; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; border-top: 2px solid #222; }
table.meta th { width: 30%; }
.item { border: 1px solid #999; border-left: 6px solid #555; padding: 1mm 3mm 2mm 3mm; margin: 0 0 3mm 0; break-inside: avoid; page-break-inside: avoid; }
.item.st-fail { border-left-color: #8b1a1a; }
.item.st-warn { border-left-color: #f7ca45; border-left-style: dashed; }
.item.st-cannot_verify { border-left-color: #7e57c2; border-left-style: dotted; }
.badge { display: inline-block; padding: 0 2mm; border: 1px solid #000; font-size: 9pt; margin-right: 2mm; }
.badge.st-fail { background: #8b1a1a; color: #fff; }
.badge.st-warn { background: #f7ca45; color: #000; }
.badge.st-cannot_verify { background: #7e57c2; color: #fff; }
dl { margin: 0; }
dt { font-weight: bold; margin-top: 1mm; }
dd { margin: 0 0 0 4mm; }
pre { white-space: pre-wrap; word-break: break-all; font-family: "Noto Sans Mono CJK SC", "DejaVu Sans Mono", monospace; font-size: 8.5pt;
      background: #f6f6f6; border: 1px solid #ddd; padding: 1mm 2mm; margin: 0; }
.note { color: #444; font-size: 9pt; }
svg.chart { display: block; margin: 2mm 0 4mm 0; max-width: 100%; height: auto; break-inside: avoid; }
svg .ttl { font-size: 13px; font-weight: bold; }
svg .lbl { font-size: 11px; }
svg .seg { font-size: 11px; font-weight: bold; }
svg .val { font-size: 9px; }
svg .leg { font-size: 11px; }
svg .ax { stroke: #000; stroke-width: 1; }
svg .grid { stroke: #bbb; stroke-width: 0.6; stroke-dasharray: 4 3; }
footer { margin-top: 8mm; border-top: 1px solid #888; padding-top: 2mm; font-size: 9pt; color: #333; word-break: break-all; }
@media print { body { padding: 0; max-width: none; } }
</style>' || E'\n'
		|| '</head>' || E'\n' || '<body>' || E'\n';

	-- Header.
	html := html || '<header>' || format('<h1>%s</h1>', finsec._html_escape(t_title)) || E'\n'
		|| format('<p class="subtitle">%s | %s</p>', finsec._html_escape(current_database()), finsec._html_escape(period)) || E'\n'
		|| '<table class="meta">'
		|| format('<tr><th>%s</th><td>%s</td></tr>', CASE WHEN zh THEN '数据库' ELSE 'Database' END,
				  finsec._html_escape(current_database()))
		|| format('<tr><th>%s</th><td>PostgreSQL %s</td></tr>', CASE WHEN zh THEN '服务器版本' ELSE 'Server version' END,
				  finsec._html_escape(current_setting('server_version')))
		|| format('<tr><th>%s</th><td>%s</td></tr>', CASE WHEN zh THEN 'finsec 版本' ELSE 'finsec version' END,
				  finsec._html_escape(ver))
		|| format('<tr><th>%s</th><td>%s</td></tr>', CASE WHEN zh THEN '生成时间' ELSE 'Generated at' END,
				  finsec._html_escape(to_char(now(), 'YYYY-MM-DD HH24:MI:SS OF')))
		|| format('<tr><th>%s</th><td>%s</td></tr>', CASE WHEN zh THEN '生成者' ELSE 'Generated by' END,
				  finsec._html_escape(CASE WHEN current_user = session_user THEN current_user::text
										   ELSE format('%s (session %s)', current_user, session_user) END))
		|| format('<tr><th>%s</th><td>%s（%s - %s）</td></tr>', CASE WHEN zh THEN '报告期间' ELSE 'Period' END,
				  finsec._html_escape(period),
				  finsec._html_escape(to_char("from", 'YYYY-MM-DD HH24:MI:SS OF')),
				  finsec._html_escape(to_char("to", 'YYYY-MM-DD HH24:MI:SS OF')))
		|| '</table></header>' || E'\n';

	-- 1. Summary by standard and status.
	sec := format('<section id="summary"><h2>%s</h2>', CASE WHEN zh THEN '一、检查结果汇总' ELSE '1. Summary of the checks' END)
		|| '<table class="summary"><thead><tr>'
		|| format('<th>%s</th>', CASE WHEN zh THEN '标准' ELSE 'Standard' END)
		|| (SELECT string_agg(format('<th class="n">%s</th>', finsec._html_escape(CASE WHEN zh THEN s.label_zh ELSE s.label_en END)), '' ORDER BY s.ord)
			  FROM finsec._compliance_statuses() s)
		|| format('<th class="n">%s</th>', CASE WHEN zh THEN '合计' ELSE 'Total' END)
		|| '</tr></thead><tbody>'
		|| coalesce((SELECT string_agg(format('<tr><td>%s</td>%s<td class="n">%s</td></tr>',
											  finsec._html_escape(left(st.standard, 200)),
											  (SELECT string_agg(format('<td class="n">%s</td>',
														finsec._html_num(coalesce((SELECT sum((e ->> 'n')::numeric) FROM jsonb_array_elements(summary) e
																					WHERE e ->> 'standard' IS NOT DISTINCT FROM st.standard
																					  AND e ->> 'status' = s.status), 0), l)), '' ORDER BY s.ord)
												 FROM finsec._compliance_statuses() s),
											  finsec._html_num(st.n, l)), '' ORDER BY st.standard COLLATE "C")
					   FROM (SELECT (e ->> 'standard') COLLATE "C" AS standard, sum((e ->> 'n')::numeric) AS n
							   FROM jsonb_array_elements(summary) e GROUP BY 1 ORDER BY 1 LIMIT 100) st), '')
		|| format('<tr class="total"><td>%s</td>', CASE WHEN zh THEN '合计' ELSE 'Total' END)
		|| (SELECT string_agg(format('<td class="n">%s</td>',
									 finsec._html_num(coalesce((SELECT sum((e ->> 'n')::numeric) FROM jsonb_array_elements(summary) e
																 WHERE e ->> 'status' = s.status), 0), l)), '' ORDER BY s.ord)
			  FROM finsec._compliance_statuses() s)
		|| format('<td class="n">%s</td></tr>', finsec._html_num(jsonb_array_length(checks), l))
		|| '</tbody></table>' || E'\n'
		|| finsec._html_svg_status_chart(summary, l) || E'\n';
	IF (SELECT count(DISTINCT e ->> 'standard') FROM jsonb_array_elements(summary) e) > 100 THEN
		sec := sec || format('<p class="note">%s</p>', CASE WHEN zh THEN '仅列出前 100 个标准。' ELSE 'Only the first 100 standards are listed.' END);
	END IF;
	html := html || sec || '</section>' || E'\n';

	-- 2. The failing items: fail, then warn, then cannot_verify.
	SELECT count(*) INTO n_fail FROM jsonb_array_elements(checks) e WHERE e ->> 'status' IN ('fail', 'warn', 'cannot_verify');
	n_shown := least(n_fail, max_items);
	sec := format('<section id="findings"><h2>%s</h2>', CASE WHEN zh THEN '二、不符合项与待核查项' ELSE '2. Failing items' END)
		|| format('<p class="note">%s</p>',
				  CASE WHEN zh THEN format('共 %s 项（不符合、警告、无法验证）。', finsec._html_num(n_fail, l))
					   ELSE format('%s items (fail, warn, cannot verify).', finsec._html_num(n_fail, l)) END)
		|| coalesce((SELECT string_agg(format('<article class="item st-%s"><h3><span class="badge st-%s">%s</span>%s%s</h3>'
											  '<dl><dt>%s</dt><dd>%s %s</dd><dt>%s</dt><dd>%s</dd><dt>%s</dt><dd><pre>%s</pre></dd><dt>%s</dt><dd>%s</dd></dl></article>',
											  x.status, x.status,
											  finsec._html_escape(CASE WHEN zh THEN s.label_zh ELSE s.label_en END),
											  finsec._html_escape(left(x.clause_id, 200)),
											  CASE WHEN x.check_name IS NULL THEN '' ELSE ' | ' || finsec._html_escape(left(x.check_name, 200)) END,
											  CASE WHEN zh THEN '标准条款' ELSE 'Clause' END,
											  finsec._html_escape(left(x.standard, 200)), finsec._html_escape(left(x.clause, 200)),
											  CASE WHEN zh THEN '要求' ELSE 'Requirement' END,
											  finsec._html_escape(CASE WHEN length(x.requirement) > max_text
																	   THEN left(x.requirement, max_text) || '…' ELSE x.requirement END),
											  CASE WHEN zh THEN '证据' ELSE 'Evidence' END,
											  finsec._html_escape(CASE WHEN x.evj IS NULL OR jsonb_typeof(x.evj) = 'null' THEN ''
																	   WHEN octet_length(x.evj::text) > 20 * max_evidence
																	   THEN left(x.evj::text, max_evidence) || E'\n…'
																	   ELSE (SELECT CASE WHEN length(p) > max_evidence
																						 THEN left(p, max_evidence) || E'\n…' ELSE p END
																			   FROM jsonb_pretty(x.evj) p) END),
											  CASE WHEN zh THEN '整改建议' ELSE 'Remediation' END,
											  finsec._html_escape(CASE WHEN length(x.remediation) > max_text
																	   THEN left(x.remediation, max_text) || '…' ELSE x.remediation END)),
									   E'\n' ORDER BY x.ord)
					   FROM (SELECT e ->> 'status' AS status, e ->> 'clause_id' AS clause_id, e ->> 'check_name' AS check_name,
									e ->> 'standard' AS standard, e ->> 'clause' AS clause, e ->> 'requirement' AS requirement,
									e ->> 'remediation' AS remediation,
									e -> 'evidence' AS evj,
									row_number() OVER (ORDER BY st.ord, e ->> 'standard' COLLATE "C", e ->> 'clause_id' COLLATE "C",
															  e ->> 'check_name' COLLATE "C") AS ord
							   FROM jsonb_array_elements(checks) e
							   JOIN finsec._compliance_statuses() st ON st.status = e ->> 'status'
							  WHERE e ->> 'status' IN ('fail', 'warn', 'cannot_verify')) x
					   JOIN finsec._compliance_statuses() s ON s.status = x.status
					  WHERE x.ord <= max_items), '');
	IF n_fail > n_shown THEN
		sec := sec || format('<p class="note">%s</p>',
							 CASE WHEN zh THEN format('另有 %s 项未在此列出，见 finsec.compliance_check()。', finsec._html_num(n_fail - n_shown, l))
								  ELSE format('%s more items are not shown here; see finsec.compliance_check().', finsec._html_num(n_fail - n_shown, l)) END);
	END IF;
	html := html || sec || '</section>' || E'\n';

	-- 3. The period's key figures and daily charts.
	FOR rep IN
		SELECT * FROM (VALUES (1, 'business', '业务统计', 'Business'), (2, 'limits', '限额拒绝', 'Limit refusals'),
							  (3, 'monitor', '交易监控', 'Transaction monitoring'), (4, 'risk', '风险决策', 'Risk decisions'),
							  (5, 'audit', '审计日志', 'Audit ledger'), (6, 'credit', '征信查询', 'Credit queries'),
							  (7, 'keys', '密钥使用', 'Key usage')) v(ord, name, label_zh, label_en)
		 ORDER BY ord
	LOOP
		rows := finsec._html_report_rows(rep.name, "from", "to", l);
		IF rows IS NULL THEN
			CONTINUE;
		END IF;
		rep_rows := rep_rows || jsonb_build_object(rep.name, rows);
		IF jsonb_typeof(rows) = 'object' THEN
			figures := figures || format('<tr><td>%s</td><td colspan="3">%s</td><td></td></tr>',
										 finsec._html_escape(CASE WHEN zh THEN rep.label_zh ELSE rep.label_en END),
										 finsec._html_escape(CASE WHEN zh THEN format('无法取得（%s：%s）', rows ->> 'error', rows ->> 'message')
																  ELSE format('unavailable (%s: %s)', rows ->> 'error', rows ->> 'message') END));
			CONTINUE;
		END IF;
		figures := figures || coalesce((
			SELECT string_agg(format('<tr><td>%s</td><td>%s</td><td>%s</td><td class="n">%s</td><td>%s</td></tr>',
									 finsec._html_escape(CASE WHEN zh THEN rep.label_zh ELSE rep.label_en END),
									 finsec._html_escape(left(coalesce(f.label, f.figure), 200)), finsec._html_escape(left(f.dimension, 200)),
									 finsec._html_num(f.value, l),
									 finsec._html_escape(CASE f.unit WHEN 'count' THEN CASE WHEN zh THEN '数量' ELSE 'count' END
																	 WHEN 'amount' THEN CASE WHEN zh THEN '金额' ELSE 'amount' END
																	 WHEN 'cannot_read' THEN CASE WHEN zh THEN '无法读取' ELSE 'cannot read' END
																	 ELSE f.unit END)), '' ORDER BY f.n)
			  FROM (SELECT e ->> 'figure' AS figure, e ->> 'label' AS label, e ->> 'dimension' AS dimension,
						   CASE WHEN jsonb_typeof(e -> 'value') = 'number' THEN (e ->> 'value')::numeric END AS value,
						   e ->> 'unit' AS unit, row_number() OVER () AS n
					  FROM jsonb_array_elements(rows) e
					 WHERE e ->> 'day' IS NULL) f
			 WHERE f.n <= 60), '');
	END LOOP;
	sec := format('<section id="figures"><h2>%s</h2>', CASE WHEN zh THEN '三、本期关键数据' ELSE '3. Key figures of the period' END)
		|| format('<p class="note">%s</p>', finsec._html_escape(period))
		|| CASE WHEN figures = '' THEN format('<p class="note">%s</p>', CASE WHEN zh THEN '（无报表函数）' ELSE '(no report functions)' END)
				ELSE format('<table class="figures"><thead><tr><th>%s</th><th>%s</th><th>%s</th><th class="n">%s</th><th>%s</th></tr></thead><tbody>',
							CASE WHEN zh THEN '报表' ELSE 'Report' END, CASE WHEN zh THEN '指标' ELSE 'Figure' END,
							CASE WHEN zh THEN '维度' ELSE 'Dimension' END, CASE WHEN zh THEN '数值' ELSE 'Value' END,
							CASE WHEN zh THEN '单位' ELSE 'Unit' END)
					 || figures || '</tbody></table>' END || E'\n';
	IF jsonb_typeof(rep_rows -> 'business') = 'array' THEN
		charts := charts || finsec._html_svg_daily(CASE WHEN zh THEN '每日支付笔数' ELSE 'Payments per day' END,
												   finsec._html_report_daily(rep_rows -> 'business', 'payments'), d_from, d_to, l, '#4a6fa5') || E'\n';
	END IF;
	IF jsonb_typeof(rep_rows -> 'limits') = 'array' THEN
		charts := charts || finsec._html_svg_daily(CASE WHEN zh THEN '每日限额拒绝笔数' ELSE 'Limit refusals per day' END,
												   finsec._html_report_daily(rep_rows -> 'limits', 'refusals'), d_from, d_to, l, '#c0504d') || E'\n';
	END IF;
	IF jsonb_typeof(rep_rows -> 'monitor') = 'array' THEN
		charts := charts || finsec._html_svg_daily(CASE WHEN zh THEN '每日监控告警数' ELSE 'Monitoring alerts per day' END,
												   finsec._html_report_daily(rep_rows -> 'monitor', 'alerts'), d_from, d_to, l, '#e8a33d') || E'\n';
	END IF;
	html := html || sec || charts || '</section>' || E'\n';

	-- 4. Exclusions: justification, requester and approver, validity and
	--    the check's actual result (compliance_check's evidence of an
	--    excluded row: justification, requested_by, approved_by, request_id,
	--    valid_until, scope, actual {status, evidence}).
	SELECT count(*) INTO n_excl FROM jsonb_array_elements(checks) e WHERE e ->> 'status' = 'excluded';
	excl := coalesce((
		SELECT string_agg(format('<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>',
								 finsec._html_escape(left(x.clause_id, 200)), finsec._html_escape(left(coalesce(x.check_name, '*'), 200)),
								 finsec._html_escape(left(x.ev ->> 'justification', max_text)),
								 finsec._html_escape(concat_ws(' / ', x.ev ->> 'requested_by', x.ev ->> 'approved_by'))
								 || CASE WHEN x.ev ? 'request_id' THEN finsec._html_escape(format(' (#%s)', x.ev ->> 'request_id')) ELSE '' END,
								 finsec._html_escape(CASE WHEN jsonb_typeof(x.ev -> 'valid_until') = 'string'
														  THEN left(x.ev ->> 'valid_until', 19) ELSE '' END),
								 finsec._html_escape(CASE WHEN zh THEN coalesce(s.label_zh, x.ev -> 'actual' ->> 'status')
														  ELSE coalesce(s.label_en, x.ev -> 'actual' ->> 'status') END)),
						  '' ORDER BY x.clause_id COLLATE "C", x.check_name COLLATE "C")
		  FROM (SELECT e ->> 'clause_id' AS clause_id, e ->> 'check_name' AS check_name,
					   CASE WHEN jsonb_typeof(e -> 'evidence') = 'object' THEN e -> 'evidence' ELSE '{}' END AS ev
				  FROM jsonb_array_elements(checks) e WHERE e ->> 'status' = 'excluded'
				 ORDER BY e ->> 'clause_id' COLLATE "C", e ->> 'check_name' COLLATE "C" LIMIT max_items) x
		  LEFT JOIN finsec._compliance_statuses() s ON s.status = x.ev -> 'actual' ->> 'status'), '');
	html := html || format('<section id="exclusions"><h2>%s</h2>', CASE WHEN zh THEN '四、豁免项' ELSE '4. Exclusions' END)
		|| CASE WHEN n_excl = 0 THEN format('<p class="note">%s</p>', CASE WHEN zh THEN '（无豁免项）' ELSE '(no exclusions)' END)
				ELSE format('<table class="exclusions"><thead><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>',
							CASE WHEN zh THEN '条款' ELSE 'Clause' END, CASE WHEN zh THEN '检查' ELSE 'Check' END,
							CASE WHEN zh THEN '理由' ELSE 'Justification' END,
							CASE WHEN zh THEN '申请人 / 批准人' ELSE 'Requested by / approved by' END,
							CASE WHEN zh THEN '有效期至' ELSE 'Valid until' END,
							CASE WHEN zh THEN '实际检查结果' ELSE 'Actual result' END)
					 || excl || '</tbody></table>'
					 || CASE WHEN n_excl > max_items
							 THEN format('<p class="note">%s</p>', CASE WHEN zh THEN format('另有 %s 项未列出。', n_excl - max_items)
																		ELSE format('%s more are not shown.', n_excl - max_items) END)
							 ELSE '' END END
		|| '</section>' || E'\n';

	-- Footer: the catalog's version and the digest of the check results.
	html := html || '<footer>'
		|| format('<p>%s: finsec %s, %s %s, %s %s, %s %s</p>',
				  CASE WHEN zh THEN '条款目录版本' ELSE 'Catalog version' END,
				  finsec._html_escape(coalesce(cat ->> 'finsec_version', ver)),
				  finsec._html_num((cat ->> 'clauses')::numeric, l), CASE WHEN zh THEN '条条款' ELSE 'clauses' END,
				  finsec._html_num((cat ->> 'checks')::numeric, l), CASE WHEN zh THEN '项检查' ELSE 'checks' END,
				  CASE WHEN zh THEN '目录 SHA-256' ELSE 'catalog SHA-256' END,
				  finsec._html_escape(coalesce(cat ->> 'sha256', cat ->> 'reason')))
		|| format('<p>%s: <span class="sha256">%s</span></p>',
				  CASE WHEN zh THEN '检查结果 SHA-256' ELSE 'SHA-256 of the check results' END, finsec._html_escape(digest))
		|| format('<p>%s: <span class="ledger">%s</span></p>',
				  CASE WHEN zh THEN '本次检查的审计日志记录' ELSE 'Ledger record of this run' END, finsec._html_escape(ledger_note))
		|| format('<p class="note">%s</p>',
				  CASE WHEN zh THEN '该摘要与 finsec.compliance_json() 的 sha256 相同时，打印件与该次检查结果一致。'
					   ELSE 'A printed copy matches a run when this digest equals the sha256 of finsec.compliance_json() for that run.' END)
		|| '</footer>' || E'\n' || '</body>' || E'\n' || '</html>' || E'\n';
	RETURN html;
END
$$;
REVOKE ALL ON FUNCTION finsec._compliance_html_page(jsonb, timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._compliance_html_page(jsonb, timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

/*
 * finsec.compliance_report_html(from, to, lang): the printable report of a
 * run of compliance_check() made now.
 */
CREATE FUNCTION finsec.compliance_report_html("from" timestamptz, "to" timestamptz, lang text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text;
BEGIN
	PERFORM finsec._html_period_check("from", "to");
	l := finsec._compliance_lang(lang);
	RETURN finsec._compliance_html_page(finsec._compliance_rows(NULL, l), "from", "to", l);
END
$$;
COMMENT ON FUNCTION finsec.compliance_report_html(timestamptz, timestamptz, text) IS
	'the printable compliance report: a self-contained HTML page (no external resource, no script) with the check summary, the failing items, the period''s key figures and charts, the exclusions and the digest of the results';
REVOKE ALL ON FUNCTION finsec.compliance_report_html(timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_report_html(timestamptz, timestamptz, text) TO finsec_admin, finsec_auditor;

/*
 * finsec.compliance_json(standard, lang): the same run for tooling
 * (schema in docs/compliance.md; jsonb keeps its keys in its own
 * fixed order, so the text form is stable).
 */
CREATE FUNCTION finsec.compliance_json(standard text DEFAULT NULL, lang text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	l text := finsec._compliance_lang(lang);
	checks jsonb;
	dr jsonb;
BEGIN
	checks := finsec._compliance_rows(standard, l);
	IF to_regprocedure('finsec.dr_level()') IS NOT NULL THEN
		BEGIN
			EXECUTE 'SELECT coalesce(jsonb_agg(to_jsonb(d)), ''[]'') FROM finsec.dr_level() d' INTO dr;
		EXCEPTION WHEN OTHERS THEN
			dr := jsonb_build_object('error', SQLSTATE, 'message', left(SQLERRM, 300));
		END;
	END IF;
	RETURN jsonb_build_object(
		'format', 'finsec.compliance_json/1',
		'generated_at', now(),
		'generated_by', current_user::text,
		'database', current_database()::text,
		'server_version', current_setting('server_version'),
		'finsec_version', (SELECT e.extversion FROM pg_extension e WHERE e.extname = 'finsec'),
		'lang', l,
		'standard', standard,
		'catalog', finsec._compliance_catalog_info(),
		'summary', (SELECT coalesce(jsonb_object_agg(x.standard,
							(SELECT jsonb_object_agg(st.status,
									(SELECT count(*) FROM jsonb_array_elements(checks) e
									  WHERE coalesce(e ->> 'standard', '') = x.standard AND e ->> 'status' = st.status))
							   FROM finsec._compliance_statuses() st)), '{}')
					  FROM (SELECT DISTINCT coalesce(e ->> 'standard', '') AS standard
							  FROM jsonb_array_elements(checks) e) x),
		'totals', (SELECT jsonb_object_agg(st.status,
							(SELECT count(*) FROM jsonb_array_elements(checks) e WHERE e ->> 'status' = st.status))
					 FROM finsec._compliance_statuses() st)
				  || jsonb_build_object('total', jsonb_array_length(checks)),
		'checks', checks,
		'dr_level', dr,
		'sha256', finsec._compliance_digest(checks));
END
$$;
COMMENT ON FUNCTION finsec.compliance_json(text, text) IS
	'the compliance self-check for tooling: catalog counts, summary by standard and status, every check row, the DR level and the SHA-256 of the results';
REVOKE ALL ON FUNCTION finsec.compliance_json(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.compliance_json(text, text) TO finsec_admin, finsec_auditor;

-- (end of section 6)



-- ---------------------------------------------------------------------
-- 7. Last successful login of each role; recorded key and ledger
--    verifications.
-- ---------------------------------------------------------------------


/*
 * The last successful login of each role (docs/compliance.md,
 * src/auth/lastlogin.c): the authentication path records it in shared
 * memory; the worker task auth.login_flush of the auth audit database
 * (finsec.auth_audit_database, else the first of
 * finsec.audit_seal_databases) upserts it here as finsec's owner.  Only
 * finsec writes it; role_oid tells a role from a later one of the same
 * name (and follows a rename).
 */
CREATE TABLE finsec.role_login (
	role			name PRIMARY KEY,
	role_oid		oid,
	last_login_at	timestamptz NOT NULL,
	last_address	text,
	logins			bigint NOT NULL DEFAULT 0 CHECK (logins >= 0)
);
COMMENT ON TABLE finsec.role_login IS
	'last successful login of each role (flushed from shared memory by the worker task auth.login_flush); finsec.role_last_login() is the interface';
REVOKE ALL ON TABLE finsec.role_login FROM PUBLIC;
GRANT SELECT ON TABLE finsec.role_login TO finsec_admin, finsec_auditor;

/* Since when this database records logins: the install or upgrade to 1.3. */
CREATE TABLE finsec.role_login_since (
	one				boolean PRIMARY KEY DEFAULT true CHECK (one),
	recording_since	timestamptz NOT NULL DEFAULT now()
);
INSERT INTO finsec.role_login_since DEFAULT VALUES;
COMMENT ON TABLE finsec.role_login_since IS
	'one row: since when finsec.role_login records logins in this database (installation of or upgrade to finsec 1.3)';
REVOKE ALL ON TABLE finsec.role_login_since FROM PUBLIC;
GRANT SELECT ON TABLE finsec.role_login_since TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._role_login_pending(
	OUT role name,
	OUT role_oid oid,
	OUT last_login_at timestamptz,
	OUT last_address text,
	OUT flushed boolean,
	OUT server_recording_since timestamptz,
	OUT dropped bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_role_login_pending'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec._role_login_pending() IS
	'the last logins this server holds in shared memory (flushed false: not yet in finsec.role_login); finsec.role_last_login() is the interface';
REVOKE ALL ON FUNCTION finsec._role_login_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._role_login_pending() TO finsec_admin, finsec_auditor;

/*
 * One row per role that can log in: the newest of finsec.role_login and
 * the logins not yet flushed; never logged in since recording began: NULL.
 * SECURITY INVOKER: the caller needs SELECT on finsec.role_login and
 * EXECUTE on finsec._role_login_pending() (finsec_admin, finsec_auditor).
 */
CREATE FUNCTION finsec.role_last_login(
	OUT role name,
	OUT last_login_at timestamptz,
	OUT last_address text,
	OUT recording_since timestamptz)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH p AS MATERIALIZED (
			SELECT q.role_oid, q.last_login_at, q.last_address
			  FROM finsec._role_login_pending() q),
		 s AS (SELECT min(x.recording_since) AS since FROM finsec.role_login_since x)
	SELECT r.rolname, l.at, l.addr, s.since
	  FROM pg_catalog.pg_roles r
	 CROSS JOIN s
	  LEFT JOIN LATERAL (
			SELECT x.at, x.addr
			  FROM (SELECT t.last_login_at AS at, t.last_address AS addr
					  FROM finsec.role_login t
					 WHERE t.role_oid = r.oid
					UNION ALL
					SELECT p.last_login_at, p.last_address
					  FROM p
					 WHERE p.role_oid = r.oid) x
			 ORDER BY x.at DESC
			 LIMIT 1) l ON true
	 WHERE r.rolcanlogin
	 ORDER BY r.rolname
$$;
COMMENT ON FUNCTION finsec.role_last_login() IS
	'last successful login of every role that can log in (NULL: none since recording_since), from finsec.role_login and the logins not yet flushed';
REVOKE ALL ON FUNCTION finsec.role_last_login() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.role_last_login() TO finsec_admin, finsec_auditor;

/*
 * Recorded verifications: finsec.key_verify() writes key.verify and
 * finsec.audit_verify() audit.verify, durable (they survive the caller's
 * rollback), not on a standby.  The verification query of audit_verify
 * keeps its body under the name _audit_verify_rows; audit_verify becomes
 * the C function that runs it and records the result.
 */
ALTER FUNCTION finsec.audit_verify(regclass, jsonb) RENAME TO _audit_verify_rows;
COMMENT ON FUNCTION finsec._audit_verify_rows(regclass, jsonb) IS
	'the verification behind finsec.audit_verify() (which also records it as audit.verify)';

CREATE FUNCTION finsec.audit_verify(
	rel regclass DEFAULT NULL,
	since jsonb DEFAULT NULL,
	OUT relation regclass,
	OUT ok boolean,
	OUT rows_checked bigint,
	OUT blocks_checked bigint,
	OUT rows_pending bigint,
	OUT first_failure text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_audit_verify_recorded'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION finsec.audit_verify(regclass, jsonb) IS
	'verify protected tables against their hash chains, from the start or from an earlier digest; recorded as audit.verify (durable)';
REVOKE ALL ON FUNCTION finsec.audit_verify(regclass, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_verify(regclass, jsonb) TO finsec_auditor;

COMMENT ON FUNCTION finsec.key_verify() IS
	'unwrap every active and retired key version and check it against its check value (D7 periodic verification); recorded as key.verify (durable)';

-- (end of section 7)
