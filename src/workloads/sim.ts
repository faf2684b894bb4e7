// A small discrete-event simulator for generators: actions run in time order
// (ties in scheduling order), and each emits trace rows stamped with the
// current time, so the trace comes out sorted by ts by construction.
import { allocBatch, setU64, type EventBatch } from '../trace/batch.js';
import { Op, type OpCode } from '../trace/schema.js';

export interface RowSink {
  /** Takes a full batch; may be async (a writer waiting for the disk). */
  flush(batch: EventBatch): Promise<void> | void;
}

type Action = () => void;

export const ROWS_PER_BATCH = 65536;

export class Sim {
  now = 0;
  rows = 0;
  private times: number[] = [];
  private seqs: number[] = [];
  private actions: Action[] = [];
  private seq = 0;
  private batch: EventBatch = allocBatch(ROWS_PER_BATCH);

  constructor(
    private readonly sink: RowSink,
    readonly maxRows: number,
  ) {}

  /** Schedules `fn` at time `t` (ns, integer, not before now). */
  at(t: number, fn: Action): void {
    const time = Math.max(this.now, Math.round(t));
    // Binary heap on (time, seq).
    const times = this.times;
    const seqs = this.seqs;
    const actions = this.actions;
    let i = times.length;
    times.push(time);
    seqs.push(this.seq++);
    actions.push(fn);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (times[p] < times[i] || (times[p] === times[i] && seqs[p] < seqs[i])) break;
      this.swap(i, p);
      i = p;
    }
  }

  after(dtNs: number, fn: Action): void {
    this.at(this.now + dtNs, fn);
  }

  private swap(i: number, j: number): void {
    const t = this.times[i];
    this.times[i] = this.times[j];
    this.times[j] = t;
    const s = this.seqs[i];
    this.seqs[i] = this.seqs[j];
    this.seqs[j] = s;
    const a = this.actions[i];
    this.actions[i] = this.actions[j];
    this.actions[j] = a;
  }

  private pop(): Action {
    const top = this.actions[0];
    this.now = this.times[0];
    const lastT = this.times.pop()!;
    const lastS = this.seqs.pop()!;
    const lastA = this.actions.pop()!;
    const n = this.times.length;
    if (n > 0) {
      this.times[0] = lastT;
      this.seqs[0] = lastS;
      this.actions[0] = lastA;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && (this.times[l] < this.times[m] || (this.times[l] === this.times[m] && this.seqs[l] < this.seqs[m]))) m = l;
        if (r < n && (this.times[r] < this.times[m] || (this.times[r] === this.times[m] && this.seqs[r] < this.seqs[m]))) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  get done(): boolean {
    return this.rows >= this.maxRows;
  }

  emit(op: OpCode, device: number, pasid: number, domain: number, iova: number, paddr: number, size: number): void {
    if (this.rows >= this.maxRows) return;
    const b = this.batch;
    const i = b.length;
    setU64(b.ts, i, this.now);
    b.op[i] = op;
    b.device[i] = device;
    b.pasid[i] = pasid;
    b.domain[i] = domain;
    setU64(b.iova, i, iova);
    setU64(b.paddr, i, paddr);
    setU64(b.size, i, size);
    b.length++;
    this.rows++;
  }

  dma(write: boolean, device: number, pasid: number, iova: number, size: number): void {
    this.emit(write ? Op.DmaWrite : Op.DmaRead, device, pasid, 0, iova, 0, size);
  }

  /** Runs actions until `maxRows` rows were emitted or nothing is scheduled. */
  async run(): Promise<void> {
    while (this.times.length > 0 && !this.done) {
      this.pop()();
      if (this.batch.length >= ROWS_PER_BATCH - 4096) await this.flushBatch();
    }
    await this.flushBatch();
  }

  private async flushBatch(): Promise<void> {
    if (this.batch.length === 0) return;
    await this.sink.flush(this.batch);
    this.batch.length = 0;
  }
}
