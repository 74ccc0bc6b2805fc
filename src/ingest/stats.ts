/** What the pipeline counts, as the transport's stats events and the pipe's exit report show it. */

export interface PipelineStats {
  received: number;
  written: number;
  /** Batches that failed and were tried again. */
  retried: number;
  /** Rows that went to the disk spool because memory was full. */
  spooled: number;
  /** Rows the database rejected, stored without their record column. */
  sanitised: number;
  /** Lines over maxRecordBytes, stored cut short with a marker. */
  truncated: number;
  dropped: number;
  buffered: number;
  /** Bytes of this process's spool files on disk. */
  spoolBytes: number;
  runNumber: number | undefined;
  lastError: string | undefined;
}

export interface CloseResult {
  /** Rows that could not be written before the deadline. */
  undelivered: number;
  stats: PipelineStats;
}
