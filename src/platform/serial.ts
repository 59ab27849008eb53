/**
 * Runs the functions it is given one after another, never two at once, whatever their callers do:
 * each waits for the previous one to settle (a failure does not block the next).
 */
export function serialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let chain: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run;
  };
}
