-- Ledger records are append-only (DESIGN invariant 3, STYLE 12): the tenant role may read and
-- insert transactions and entries, never change or remove them; a correction is a compensating
-- transaction. Accounts are never deleted (entries reference them); balances and holds change only
-- through the ledger service.
REVOKE UPDATE, DELETE, TRUNCATE ON ledger_transactions FROM bulwark_app;
--> statement-breakpoint
REVOKE UPDATE, DELETE, TRUNCATE ON ledger_entries FROM bulwark_app;
--> statement-breakpoint
REVOKE DELETE, TRUNCATE ON ledger_accounts FROM bulwark_app;
--> statement-breakpoint
REVOKE DELETE, TRUNCATE ON ledger_balances FROM bulwark_app;
--> statement-breakpoint
REVOKE DELETE, TRUNCATE ON ledger_holds FROM bulwark_app;
