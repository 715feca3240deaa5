/**
 * Runs a job one at a time: a request while it runs makes exactly one more run right
 * after, so bursts of triggers (watch events, timers) coalesce and none is lost.
 */
export class Rerunner {
  private running = false;
  private again = false;

  constructor(
    private readonly job: () => Promise<void>,
    private readonly onError: (e: Error) => void,
    /** checked before each further run: false once the owner has stopped */
    private readonly active: () => boolean = () => true,
  ) {}

  async run(): Promise<void> {
    if (!this.active()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await this.job();
      } while (this.again && this.active());
    } catch (e) {
      this.onError(e as Error);
    } finally {
      this.running = false;
    }
  }
}
