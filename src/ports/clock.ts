// Port: time. The system clock in production; tests may substitute a clock they advance.
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
