--
-- 012_worker: the SQL surface of the finsec worker framework
-- (docs/workers.md).  The regression server names no database in
-- finsec.audit_seal_databases, so no worker runs and there are no rows;
-- TAP 004_worker_tasks and 005_worker_standby test the rows themselves.
--

-- The columns of finsec.worker_tasks() and of the view over it.
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute WHERE attrelid = 'finsec.status_worker_tasks'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT count(*) FROM finsec.worker_tasks();
SELECT count(*) FROM finsec.status_worker_tasks;

-- finsec.status() reports the worker: none configured is no failure.
SELECT component, ok, detail FROM finsec.status() WHERE component LIKE 'worker%';

-- Default deny: PUBLIC may not read the status; the three finsec duty roles may.
CREATE ROLE regress_worker_outsider;
SET ROLE regress_worker_outsider;
SELECT count(*) FROM finsec.worker_tasks();
SELECT count(*) FROM finsec.status_worker_tasks;
SELECT * FROM finsec.status_worker();
RESET ROLE;
SELECT r.rolname,
       has_function_privilege(r.oid, 'finsec.worker_tasks()', 'EXECUTE') AS tasks_fn,
       has_table_privilege(r.oid, 'finsec.status_worker_tasks', 'SELECT') AS tasks_view,
       has_function_privilege(r.oid, 'finsec.status_worker()', 'EXECUTE') AS status_fn
  FROM pg_roles r
 WHERE r.rolname IN ('finsec_admin', 'finsec_auditor', 'finsec_operator', 'finsec_app', 'regress_worker_outsider')
 ORDER BY 1;
SELECT has_table_privilege('public', 'finsec.status_worker_tasks', 'SELECT') AS public_view,
       has_function_privilege('public', 'finsec.worker_tasks()', 'EXECUTE') AS public_fn;
CREATE ROLE regress_worker_operator IN ROLE finsec_operator;
SET ROLE regress_worker_operator;
SELECT count(*) FROM finsec.status_worker_tasks;
RESET ROLE;
DROP ROLE regress_worker_outsider, regress_worker_operator;
