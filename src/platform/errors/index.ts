export { AppError } from './app-error.ts';
export { HttpErrors } from './codes.ts';
export { PROBLEM_CONTENT_TYPE, type Problem, problemFor, problemType, toProblem } from './problem.ts';
export { allErrorCodes, defineErrors, type ErrorSpec, errorSpec } from './registry.ts';
