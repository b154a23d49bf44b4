'use strict';
// The operating system's part of the addon, built by node-gyp at npm ci (see os.c).
module.exports = require('./build/Release/hms_os.node');
