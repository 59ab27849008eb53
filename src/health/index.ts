export { HealthErrors, healthRoutes } from './routes.ts';
