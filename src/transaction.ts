/** One transaction around `work`, rolled back if it throws. */
import type pg from 'pg';

/** `begin` is BEGIN with its options, and the SET LOCAL statements that travel with it. */
export async function inTransaction<T>(client: pg.ClientBase, begin: string, work: () => Promise<T>): Promise<T> {
  await client.query(begin);
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
