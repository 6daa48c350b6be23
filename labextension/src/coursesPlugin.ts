/** The Lab plugin of the CoSim Courses side panel (the panel itself is coursesPanel.ts). */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { CommandIDs } from './commandIds';
import { COURSES_PANEL_ID, CoursesPanel } from './coursesPanel';
import { coursesIcon } from './icons';
import { addSidePanel, PanelRank } from './sidePanel';

export const coursesPanelPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:courses-panel',
  description: 'The CoSim Courses side panel: release, grade and return assignments.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    addSidePanel(app, new CoursesPanel(), {
      rank: PanelRank.courses,
      command: CommandIDs.showCoursesPanel,
      label: 'Show CoSim Courses Panel',
      caption:
        'Assignments of your courses: release, collect, grade, return; fetch, submit, scores',
      restoreName: COURSES_PANEL_ID,
      icon: coursesIcon,
      palette,
      restorer
    });
  }
};
