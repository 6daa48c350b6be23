/** The form of a template's parameters, shown in a dialog before a job starts. */
import { Widget } from '@lumino/widgets';

import { ITemplate, ITemplateParam } from './jobsApi';

export interface IJobRequest {
  folder: string;
  params: Record<string, unknown>;
}

function describe(param: ITemplateParam): string {
  if (param.choices) {
    return param.help;
  }
  if (param.range) {
    return `${param.help} Range: ${param.range[0]} to ${param.range[1]}.`;
  }
  return param.help;
}

/** One labelled input per parameter, with its range as the input's own limits. */
export class TemplateForm extends Widget {
  constructor(readonly template: ITemplate) {
    super();
    this.addClass('cosim-TemplateForm');
    this.node.dataset.template = template.name;
    const about = document.createElement('p');
    about.className = 'cosim-TemplateForm-about';
    about.textContent = template.description;
    this.node.appendChild(about);
    this._folder = this._row(
      'folder',
      'project folder',
      this._text(''),
      'A new folder for the ' + 'project files; empty: a fresh folder named after the template.'
    );
    this._folder.placeholder = `${template.name}-1`;
    for (const param of template.params) {
      this._inputs.set(
        param.name,
        this._row(param.name, param.name, this._input(param), describe(param))
      );
    }
  }

  /** The request, or throws an Error naming the parameter and its allowed range. */
  read(): IJobRequest {
    const params: Record<string, unknown> = {};
    for (const param of this.template.params) {
      const input = this._inputs.get(param.name)!;
      params[param.name] = this._read(param, input);
    }
    return { folder: this._folder.value.trim(), params };
  }

  private _read(param: ITemplateParam, input: HTMLInputElement | HTMLSelectElement): unknown {
    if (param.type === 'bool') {
      return (input as HTMLInputElement).checked;
    }
    if (param.type === 'str') {
      return input.value;
    }
    const value = Number(input.value);
    const bad =
      input.value.trim() === '' ||
      !Number.isFinite(value) ||
      (param.type === 'int' && !Number.isInteger(value)) ||
      (param.range !== undefined && (value < param.range[0] || value > param.range[1]));
    if (bad) {
      const range = param.range ? ` in [${param.range[0]}, ${param.range[1]}]` : '';
      throw new Error(
        `${param.name} must be ${param.type === 'int' ? 'an integer' : 'a number'}${range}`
      );
    }
    return value;
  }

  private _text(value: string): HTMLInputElement {
    const input = document.createElement('input');
    input.type = 'text';
    input.value = value;
    return input;
  }

  private _input(param: ITemplateParam): HTMLInputElement | HTMLSelectElement {
    if (param.choices) {
      const select = document.createElement('select');
      for (const choice of param.choices) {
        const option = document.createElement('option');
        option.value = option.textContent = String(choice);
        option.selected = choice === param.default;
        select.appendChild(option);
      }
      return select;
    }
    const input = document.createElement('input');
    if (param.type === 'bool') {
      input.type = 'checkbox';
      input.checked = Boolean(param.default);
      return input;
    }
    if (param.type === 'str') {
      input.type = 'text';
      input.value = String(param.default);
      return input;
    }
    input.type = 'number';
    input.value = String(param.default);
    input.step = param.type === 'int' ? '1' : 'any';
    if (param.range) {
      input.min = String(param.range[0]);
      input.max = String(param.range[1]);
    }
    return input;
  }

  private _row<T extends HTMLInputElement | HTMLSelectElement>(
    name: string,
    label: string,
    input: T,
    help: string
  ): T {
    const row = document.createElement('label');
    row.className = 'cosim-TemplateForm-row';
    const text = document.createElement('span');
    text.className = 'cosim-TemplateForm-label';
    text.textContent = label;
    input.name = name;
    input.classList.add('jp-mod-styled', 'cosim-TemplateForm-input');
    input.title = help;
    const hint = document.createElement('small');
    hint.className = 'cosim-TemplateForm-help';
    hint.textContent = help;
    row.append(text, input, hint);
    this.node.appendChild(row);
    return input;
  }

  private _folder: HTMLInputElement;
  private _inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
}
