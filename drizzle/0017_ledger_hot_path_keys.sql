ALTER TABLE "ledger_entries" DROP CONSTRAINT "ledger_entries_tenant_id_account_id_ledger_accounts_tenant_id_id_fk";
--> statement-breakpoint
ALTER TABLE "ledger_holds" DROP CONSTRAINT "ledger_holds_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "ledger_transactions" DROP CONSTRAINT "ledger_transactions_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "idempotency_keys" DROP CONSTRAINT "idempotency_keys_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_balance_fk" FOREIGN KEY ("account_id") REFERENCES "public"."ledger_balances"("account_id") ON DELETE no action ON UPDATE no action;