/**
 * Share this server: a top-bar button and the `cosim:share` command open a dialog that lists who
 * has access and whom the owner may add (hub users and groups, read-write or view-only), revokes
 * any of them, and makes expiring share links. The hub's own sharing API does the work, through
 * the server's owner-only /cosim/api/shares.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { CommandIDs } from './commandIds';
import { el, errorText } from './dom';
import { createLink, ISharing, listSharing, revoke, revokeLinks, share } from './shareApi';

const LINK_LIFETIMES: [string, number][] = [
  ['1 hour', 3600],
  ['1 day', 86400],
  ['1 week', 7 * 86400]
];

export class ShareBody extends Widget {
  constructor() {
    super();
    this.addClass('cosim-Share');
    this._error = el('div', 'cosim-Share-error');
    const add = el('div', 'cosim-Share-add');
    this._who = el('select', 'cosim-Share-who');
    this._viewOnly = el('input', 'cosim-Share-viewOnly');
    this._viewOnly.type = 'checkbox';
    const viewLabel = el('label', 'cosim-Share-viewLabel');
    viewLabel.append(this._viewOnly, ' view only');
    const addButton = el('button', 'jp-mod-styled jp-mod-accept cosim-Share-addButton', 'Add');
    addButton.onclick = () => void this._add();
    add.append(this._who, viewLabel, addButton);
    this._list = el('ul', 'cosim-Share-list');
    const links = el('div', 'cosim-Share-links');
    this._lifetime = el('select', 'cosim-Share-lifetime');
    for (const [label, seconds] of LINK_LIFETIMES) {
      this._lifetime.appendChild(new Option(`expires in ${label}`, String(seconds)));
    }
    const linkButton = el('button', 'jp-mod-styled cosim-Share-linkButton', 'Create link');
    linkButton.onclick = () => void this._link();
    this._linkOut = el('input', 'cosim-Share-link');
    this._linkOut.readOnly = true;
    this._linkOut.hidden = true;
    this._codes = el('span', 'cosim-Share-codes');
    const revokeAll = el('button', 'jp-mod-styled cosim-Share-revokeLinks', 'Revoke links');
    revokeAll.onclick = () => void this._run(revokeLinks());
    links.append(this._lifetime, linkButton, this._codes, revokeAll, this._linkOut);
    this.node.append(
      el('h3', 'cosim-Share-heading', 'Add people'),
      add,
      el('h3', 'cosim-Share-heading', 'Who has access'),
      this._list,
      el('h3', 'cosim-Share-heading', 'Share link'),
      links,
      this._error
    );
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      this._render(await listSharing());
      this._error.textContent = '';
    } catch (error) {
      this._error.textContent = errorText(error);
    }
  }

  private _render(sharing: ISharing): void {
    const options = [
      ...sharing.users.map(u => new Option(`user: ${u}`, `user:${u}`)),
      ...sharing.groups.map(g => new Option(`group: ${g}`, `group:${g}`))
    ];
    this._who.replaceChildren(...options);
    this._list.replaceChildren(
      ...sharing.shares.map(s => {
        const item = el('li', 'cosim-Share-item');
        item.dataset.kind = s.kind; // a user and a group may share a name
        item.dataset.name = s.name;
        const text = `${s.kind === 'group' ? 'group ' : ''}${s.name}`;
        item.append(el('span', 'cosim-Share-name', text));
        item.append(el('span', 'cosim-Share-mode', s.view_only ? 'view only' : 'can edit'));
        const button = el('button', 'jp-mod-styled jp-mod-warn cosim-Share-revoke', 'Revoke');
        button.onclick = () => void this._run(revoke(s.kind, s.name));
        item.appendChild(button);
        return item;
      })
    );
    if (sharing.shares.length === 0) {
      this._list.appendChild(el('li', 'cosim-Share-empty', `only ${sharing.owner}`));
    }
    const n = sharing.codes.length;
    this._codes.textContent = n ? `${n} active link${n > 1 ? 's' : ''}` : 'no active links';
  }

  private async _add(): Promise<void> {
    const [kind, ...rest] = this._who.value.split(':');
    if (!rest.length) {
      this._error.textContent = 'nobody to add';
      return;
    }
    await this._run(share(kind as 'user' | 'group', rest.join(':'), this._viewOnly.checked));
  }

  private async _link(): Promise<void> {
    try {
      const link = await createLink(Number(this._lifetime.value), this._viewOnly.checked);
      const hub = PageConfig.getOption('hubHost') || window.location.origin;
      this._linkOut.value = link.accept_url.startsWith('http')
        ? link.accept_url
        : URLExt.join(hub, link.accept_url);
      this._linkOut.hidden = false;
      this._linkOut.select();
    } catch (error) {
      this._error.textContent = errorText(error);
    }
    await this.refresh();
  }

  private async _run(action: Promise<unknown>): Promise<void> {
    try {
      await action;
      this._error.textContent = '';
    } catch (error) {
      this._error.textContent = errorText(error);
      return;
    }
    await this.refresh();
  }

  private _who: HTMLSelectElement;
  private _viewOnly: HTMLInputElement;
  private _list: HTMLUListElement;
  private _lifetime: HTMLSelectElement;
  private _linkOut: HTMLInputElement;
  private _codes: HTMLSpanElement;
  private _error: HTMLDivElement;
}

export const sharePlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:share',
  description: 'Share this server with other hub users, groups or an expiring link.',
  autoStart: true,
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null) => {
    if (!PageConfig.getOption('hubUser')) {
      return; // not under JupyterHub: there is no one to share with
    }
    app.commands.addCommand(CommandIDs.share, {
      label: 'Share this server…',
      caption: 'Let other hub users or groups into this server, or make a share link',
      execute: () =>
        showDialog({
          title: 'Share this server',
          body: new ShareBody(),
          buttons: [Dialog.okButton({ label: 'Done' })]
        })
    });
    palette?.addItem({ command: CommandIDs.share, category: 'CoSim' });
    const button = new Widget({ node: el('button', 'cosim-ShareButton jp-mod-styled', 'Share') });
    button.node.title = 'Share this server';
    button.node.onclick = () => void app.commands.execute(CommandIDs.share);
    button.id = 'cosim-share-button';
    app.shell.add(button, 'top', { rank: 900 });
  }
};
