'use strict';
// The addon built by node-gyp at npm ci (see rsa_product.c).
module.exports = require('./build/Release/hms_native.node');
