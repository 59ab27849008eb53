/**
 * A `CustomerLookup` over the KYC module's customers table (partner and policyholder user only;
 * no personal data), for when KycService is not at hand. The app should prefer
 * `KycService.customerRef`, which answers the same from the module that owns the table.
 */
import { and, eq } from 'drizzle-orm';
import { customers } from '../kyc/schema.ts';
import { isUuid } from '../platform/ids.ts';
import type { CustomerLookup } from './service.ts';

export const customersTableLookup: CustomerLookup = {
  async customer(tx, tenantId, customerId) {
    if (!isUuid(customerId)) return undefined;
    const [row] = await tx
      .select({ partnerId: customers.partnerId, ownerUserId: customers.ownerUserId })
      .from(customers)
      .where(and(eq(customers.tenantId, tenantId), eq(customers.id, customerId)));
    return row ? { partnerId: row.partnerId, ownerUserId: row.ownerUserId ?? undefined } : undefined;
  },
};
