#!/usr/bin/env node
// Launcher for the seamkit CLI (kept outside dist so the bin exists before the first build).
import '../dist/bin.js';
