const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface Interrupt {
  /** Aborted on SIGINT or SIGTERM; passed to rclone so it is stopped too. */
  signal: AbortSignal;
  received(): NodeJS.Signals | undefined;
  dispose(): void;
}

/** Catch SIGINT/SIGTERM/SIGHUP for the length of a run, so it can stop rclone, unlock and record. */
export function watchInterrupts(): Interrupt {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    // A second signal while stopping is ignored: the cleanup is already on its way.
    if (received) return;
    received = signal;
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  // SIGHUP: the terminal closed or the SSH session dropped.
  for (const name of SIGNALS) process.on(name, onSignal);
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => {
      for (const name of SIGNALS) process.off(name, onSignal);
    },
  };
}
