export { TenantErrors } from './errors.ts';
export { tenantRoutes } from './routes.ts';
export { type App, type Partner, type Tenant, TenantService } from './service.ts';
