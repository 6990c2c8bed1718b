// See package.json: msgpackr wraps this require in try/catch and falls back to plain JavaScript.
throw new Error('msgpackr-extract: native acceleration is not installed (plateflow uses the JavaScript codec)');
