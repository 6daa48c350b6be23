/** Launcher cards for CoSim templates, the parameter dialog, the Jobs panel and TensorBoard. */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  IFrame,
  MainAreaWidget,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';

import { CommandIDs } from './commandIds';
import { jobsIcon, templatesIcon } from './icons';
import { ITemplate, listTemplates, openTensorBoard, startJob, watchPolicy } from './jobsApi';
import { JOBS_PANEL_ID, JobsPanel } from './jobsPanel';
import { TemplateForm } from './templateDialog';
import { errorText } from './dom';
import { addSidePanel, PanelRank } from './sidePanel';

export const jobsPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:jobs',
  description: 'CoSim templates in the launcher, the Jobs panel, and TensorBoard per job.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const { commands, shell } = app;
    const templates = new Map<string, ITemplate>();
    const boards = new Map<string, MainAreaWidget<IFrame>>();

    commands.addCommand(CommandIDs.openTensorBoard, {
      label: 'Open TensorBoard of a CoSim Job',
      icon: args => (args.isPalette ? undefined : jobsIcon),
      execute: async args => {
        const id = String(args.id ?? '');
        let widget = boards.get(id);
        if (!widget || widget.isDisposed) {
          const url = await openTensorBoard(id);
          const frame = new IFrame({ sandbox: ['allow-scripts', 'allow-same-origin'] });
          frame.url = url;
          widget = new MainAreaWidget({ content: frame });
          widget.id = `cosim-tensorboard-${id}`;
          widget.addClass('cosim-TensorBoard');
          widget.title.label = `TensorBoard ${id.split('-').slice(2, -1).join('-')}`;
          widget.title.caption = `TensorBoard of job ${id}`;
          widget.title.icon = jobsIcon;
          widget.title.closable = true;
          widget.disposed.connect(() => boards.delete(id));
          boards.set(id, widget);
          shell.add(widget, 'main');
        }
        shell.activateById(widget.id);
      }
    });

    const panel = new JobsPanel({
      openTensorBoard: id =>
        void commands
          .execute(CommandIDs.openTensorBoard, { id })
          .catch(error => Notification.error(`TensorBoard: ${errorText(error)}`)),
      watchPolicy: async id => {
        const reply = await watchPolicy(id);
        await commands.execute(CommandIDs.openViewer, {
          simId: reply.sim_id,
          title: `policy ${reply.checkpoint}`
        });
      }
    });
    addSidePanel(app, panel, {
      rank: PanelRank.jobs,
      command: CommandIDs.showJobsPanel,
      label: 'Show CoSim Jobs Panel',
      caption: 'Background jobs of this server: progress, curves, logs, stop and resume',
      restoreName: JOBS_PANEL_ID,
      icon: jobsIcon,
      palette,
      restorer
    });

    commands.addCommand(CommandIDs.newJob, {
      label: args => templates.get(String(args.template))?.title ?? 'New CoSim Job',
      caption: args => templates.get(String(args.template))?.description ?? '',
      icon: args => (args.isPalette ? undefined : templatesIcon),
      execute: async args => {
        const template = templates.get(String(args.template));
        if (!template) {
          return;
        }
        const form = new TemplateForm(template);
        const answer = await showDialog({
          title: `Start ${template.title}`,
          body: form,
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Start' })]
        });
        if (!answer.button.accept) {
          return;
        }
        try {
          const request = form.read();
          const job = await startJob(template.name, request.params, request.folder || undefined);
          Notification.success(`Started ${template.title} in ${job.project.split('/').pop()}`, {
            autoClose: 5000
          });
        } catch (error) {
          Notification.error(`Could not start ${template.title}: ${errorText(error)}`, {
            autoClose: false
          });
          return;
        }
        shell.activateById(panel.id);
        await panel.refresh();
      }
    });

    // Cards appear once the server has said which templates exist.
    void listTemplates()
      .then(list => {
        list.forEach((template, i) => {
          templates.set(template.name, template);
          const args = { template: template.name };
          launcher?.add({ command: CommandIDs.newJob, args, category: 'CoSim', rank: 10 + i });
          palette?.addItem({ command: CommandIDs.newJob, args, category: 'CoSim' });
        });
      })
      .catch(error => console.warn('CoSim: cannot list templates', error));
  }
};
