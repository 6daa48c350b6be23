/** `.cosimrec` files open in the recording player (the file browser's double-click). */
import { IGlobalAwareness } from '@jupyter/collaborative-drive';
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

import { viewerIcon } from './icons';
import { RECORDING_FACTORY, RECORDING_FILE_TYPE, RecordingFactory } from './recordingWidget';
import { IAwarenessLike } from './viewer/presenterFollow';

export const recordingPlugin: JupyterFrontEndPlugin<void> = {
  id: '@cosim/labextension:recordings',
  description: 'Opens .cosimrec sim recordings with a playback timeline.',
  autoStart: true,
  optional: [IGlobalAwareness],
  activate: (app: JupyterFrontEnd, awareness: IAwarenessLike | null) => {
    app.docRegistry.addFileType({
      name: RECORDING_FILE_TYPE,
      displayName: 'CoSim recording',
      extensions: ['.cosimrec'],
      mimeTypes: ['application/vnd.cosim.recording'],
      fileFormat: 'base64',
      contentType: 'file',
      icon: viewerIcon
    });
    const factory = new RecordingFactory({
      name: RECORDING_FACTORY,
      modelName: 'base64',
      fileTypes: [RECORDING_FILE_TYPE],
      defaultFor: [RECORDING_FILE_TYPE],
      readOnly: true
    });
    factory.awareness = awareness;
    app.docRegistry.addWidgetFactory(factory);
  }
};
