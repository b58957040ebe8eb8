/**
 * Reads an app's whole history through `GET /api/logs` (newest first, pages of 1000), as the
 * tests against a gateway process check what was stored. `query` adds filters (`&level=…`).
 */
export async function readHistory<T = Record<string, any>>(
  baseUrl: string,
  readToken: string,
  query = '',
): Promise<{ total: number; entries: T[] }> {
  const entries: T[] = [];
  let total = 0;
  for (let offset = 0; ; offset += 1000) {
    const res = await fetch(`${baseUrl}/api/logs?limit=1000&offset=${offset}${query}`, { headers: { Authorization: `Bearer ${readToken}` } });
    if (res.status !== 200) throw new Error(`GET /api/logs answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as { total: number; entries: T[] };
    total = page.total;
    entries.push(...page.entries);
    if (page.entries.length < 1000) return { total, entries };
  }
}
