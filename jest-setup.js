// Jest setup provided by Grafana scaffolding
import './.config/jest-setup';

// React 19's react-dom/server (pulled in by @grafana/ui's TruncatedText) creates a
// MessageChannel when loaded; jsdom has none. A timer-based stand-in avoids
// Node's worker_threads MessageChannel, whose open port keeps Jest alive.
if (typeof global.MessageChannel === 'undefined') {
  class Port {
    onmessage = null;
    other = null;
    postMessage(data) {
      setTimeout(() => this.other?.onmessage?.({ data }), 0);
    }
    close() {}
    start() {}
    addEventListener() {}
    removeEventListener() {}
  }
  global.MessageChannel = class MessageChannel {
    constructor() {
      this.port1 = new Port();
      this.port2 = new Port();
      this.port1.other = this.port2;
      this.port2.other = this.port1;
    }
  };
}

// The scaffold stubs getContext() to return undefined; @grafana/ui's Combobox
// measures option text on a canvas, so give it a context that can measure.
HTMLCanvasElement.prototype.getContext = function getContext() {
  return { font: '', measureText: (text) => ({ width: String(text).length * 7 }) };
};

// jsdom has no IntersectionObserver / ResizeObserver; Combobox's option list uses them.
class NoopObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
}
global.IntersectionObserver = global.IntersectionObserver ?? NoopObserver;
global.ResizeObserver = global.ResizeObserver ?? NoopObserver;
