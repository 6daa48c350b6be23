/** CoSim's help page in Lab (Help > CoSim Help): what each part does and where to find it. */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { cosimIcon } from './icons';

export interface IHelpSection {
  id: string;
  title: string;
  paragraphs: string[];
}

export const HELP_SECTIONS: IHelpSection[] = [
  {
    id: 'start',
    title: 'Getting started',
    paragraphs: [
      'The launcher\u2019s CoSim section opens starter notebooks that run as they are: New Sim ' +
        'Notebook (a MuJoCo humanoid), a PyBullet arm and a camera stream. Run the cell: the sim ' +
        'appears live in its output and in every collaborator\u2019s copy of the notebook.',
      'cosim.model_path("humanoid.xml") finds the MJCF models that ship with CoSim; ' +
        'cosim.available_models() lists them.'
    ]
  },
  {
    id: 'viewer',
    title: 'The live viewer',
    paragraphs: [
      'Drag to orbit, right-drag (or Shift+drag) to pan, wheel to zoom, double-click or Reset ' +
        'view to frame the robot again, ? for the bindings. Keys pressed over the view stay in ' +
        'it; chords such as Ctrl+S still reach Lab.',
      'Stop sim ends the notebook\u2019s loop (v.running turns false); Pause display freezes ' +
        'only your view. The camera menu follows a moving body or looks through a scene camera. ' +
        'The CoSim Viewer side panel lists the live sims of this server.'
    ]
  },
  {
    id: 'jobs',
    title: 'Jobs',
    paragraphs: [
      'Template cards in the launcher start background jobs (RL training): they keep running ' +
        'when the browser closes. The Jobs side panel shows progress, the reward curve and the ' +
        'log; stop, resume from a checkpoint, open TensorBoard or watch the trained policy.'
    ]
  },
  {
    id: 'snapshots',
    title: 'Snapshots',
    paragraphs: [
      'The Snapshots side panel keeps versions of the workspace (files, Python packages, sim ' +
        'settings), diffs them against the working tree, restores one in place or into a new ' +
        'folder, and exports or imports one as a single file. Jupyter\u2019s own state (the ' +
        'collaboration database, .jupyter/, checkpoints) is never stored or restored.'
    ]
  },
  {
    id: 'build',
    title: 'C++',
    paragraphs: [
      'Notebooks on the C++ (cosim-cpp) kernel compile each cell; %%file, %%build and %%run ' +
        'shape a project. Build C++ Folder (launcher, file browser) compiles a folder and lists ' +
        'its diagnostics; compile_commands.json feeds clangd.'
    ]
  },
  {
    id: 'courses',
    title: 'Courses',
    paragraphs: [
      'The Courses side panel lists the courses you teach or take: instructors release and ' +
        'collect assignments, students fetch and submit them.'
    ]
  },
  {
    id: 'status',
    title: 'Status and spend',
    paragraphs: [
      'The CoSim item in the status bar shows whether Redis (the sims\u2019 bus) is reachable; ' +
        'click it for the details. On a priced (GPU) server a banner above Lab shows this ' +
        'month\u2019s spend against your cap and warns before the cost guard stops the server.'
    ]
  }
];

/** The help page's content (plain DOM: no Markdown rendering needed). */
export class HelpPage extends Widget {
  constructor() {
    super();
    this.addClass('cosim-Help');
    const title = document.createElement('h1');
    title.textContent = 'CoSim help';
    const toc = document.createElement('ul');
    this.node.append(title, toc);
    for (const section of HELP_SECTIONS) {
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.textContent = section.title;
      link.href = `#cosim-help-${section.id}`;
      link.onclick = event => {
        event.preventDefault();
        this.showSection(section.id);
      };
      item.appendChild(link);
      toc.appendChild(item);
      const heading = document.createElement('h2');
      heading.id = `cosim-help-${section.id}`;
      heading.textContent = section.title;
      this.node.appendChild(heading);
      for (const text of section.paragraphs) {
        const p = document.createElement('p');
        p.textContent = text;
        this.node.appendChild(p);
      }
    }
  }

  /** Scroll to a section by id. */
  showSection(id: string): void {
    this.node.querySelector(`#cosim-help-${id}`)?.scrollIntoView();
  }
}

export function createHelpWidget(): MainAreaWidget<HelpPage> {
  const widget = new MainAreaWidget({ content: new HelpPage() });
  widget.id = 'cosim-help';
  widget.title.label = 'CoSim Help';
  widget.title.icon = cosimIcon;
  widget.title.closable = true;
  return widget;
}
