/**
 * Strong customer authentication with dynamic linking: the RFC 9396 payment_initiation detail,
 * the low-value exemption and the one-time consumption of an approval. Payments use `ScaPort`.
 */
export {
  detailFor,
  fromDecimal,
  type LinkedPayment,
  PAYMENT_INITIATION,
  type PaymentInitiationDetail,
  paymentDetail,
  toDecimal,
} from './details.ts';
export { ScaError, type ScaErrorCode, ScaErrors } from './errors.ts';
export { scaAdminRoutes } from './routes.ts';
export { DEFAULT_SCA_SETTINGS, ScaService, type ScaSettings } from './service.ts';
export type { PaymentForSca, ScaDecision, ScaPort } from './types.ts';
