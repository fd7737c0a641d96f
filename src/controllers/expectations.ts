// Expectations, as client-go's ControllerExpectations: after a controller asks for N creates
// (or deletes), it does not act on that key again until the informer has shown it those N
// changes (or a timeout passes), so a stale cache never leads to double creates.
export class Expectations {
  private m = new Map<string, { add: number; del: Set<string>; at: number }>()
  constructor(private readonly timeoutMs = 60_000) {}

  satisfied(key: string, now = Date.now()): boolean {
    const e = this.m.get(key)
    if (!e) return true
    if ((e.add <= 0 && e.del.size === 0) || now - e.at > this.timeoutMs) {
      this.m.delete(key)
      return true
    }
    return false
  }

  expectCreations(key: string, n: number): void {
    const e = this.entry(key)
    e.add += n
  }

  expectDeletions(key: string, names: string[]): void {
    const e = this.entry(key)
    for (const n of names) e.del.add(n)
  }

  creationObserved(key: string): void {
    const e = this.m.get(key)
    if (e && e.add > 0) e.add--
  }

  deletionObserved(key: string, name: string): void {
    this.m.get(key)?.del.delete(name)
  }

  forget(key: string): void {
    this.m.delete(key)
  }

  private entry(key: string) {
    let e = this.m.get(key)
    if (!e) this.m.set(key, (e = { add: 0, del: new Set(), at: Date.now() }))
    e.at = Date.now()
    return e
  }
}
