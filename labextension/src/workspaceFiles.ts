/** Writing a browser-made file (an exported video) into the user's workspace via the Contents API. */
import { PathExt, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

function base64Of(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error ?? new Error('cannot read the file'));
    reader.readAsDataURL(blob);
  });
}

/** Save `blob` as `name` in folder `dir` (workspace-relative, '' = top); resolves to its path. */
export async function saveWorkspaceFile(dir: string, name: string, blob: Blob): Promise<string> {
  const path = dir ? PathExt.join(dir, name) : name;
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'api/contents', URLExt.encodeParts(path));
  const body = JSON.stringify({ type: 'file', format: 'base64', content: await base64Of(blob) });
  const response = await ServerConnection.makeRequest(url, { method: 'PUT', body }, settings);
  if (!response.ok) {
    let message = response.statusText;
    try {
      message = (await response.json()).message || message;
    } catch {
      // not JSON: keep the status text
    }
    throw new Error(`${response.status} ${message}`);
  }
  return path;
}
