// A worker of the devtools page: validates a dropped run file as the library reads it
// (`checkRun`: `Run.fromJSON`, from the bundled model), off the page's thread, so that a
// 100,000-event file is shown at once and refused, if the library refuses it, when the check ends.
import { checkRun } from './model.js'

self.onmessage = ({ data: { id, text } }) => {
  try {
    checkRun(JSON.parse(text))
    self.postMessage({ id })
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error) })
  }
}
