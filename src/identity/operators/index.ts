/** Operators of the platform and the one-time bootstrap that creates the first of them. */
export { OperatorError, type OperatorErrorCode, OperatorErrors } from './errors.ts';
export { operatorBootstrapRoutes } from './routes.ts';
export {
  type BootstrapState,
  FIRST_OPERATOR_ROLES,
  OperatorBootstrap,
  PLATFORM_TENANT_SLUG,
} from './service.ts';
