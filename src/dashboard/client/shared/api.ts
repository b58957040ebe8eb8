/**
 * The gateway's JSON API as the page calls it: the token as `Authorization: Bearer`, and the
 * house error body (`{ error, message }`) turned into an {@link ApiError} with its message.
 */

/** A non-2xx answer: `status`, the gateway's `error` code and its message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `GET path?params` with the token; resolves with the parsed body, rejects with an
 * {@link ApiError} (the gateway's message, else "GET path answered N").
 */
export async function getJson<T>(path: string, params: URLSearchParams | undefined, token: string): Promise<T> {
  const query = params && [...params.keys()].length ? `?${params}` : '';
  const res = await fetch(`${path}${query}`, { headers: { Authorization: `Bearer ${token}` } });
  const body = (await res.json().catch(() => ({}))) as T & { error?: string; message?: string };
  if (!res.ok) throw new ApiError(res.status, body.error ?? 'http_error', body.message ?? `GET ${path} answered ${res.status}`);
  return body;
}
