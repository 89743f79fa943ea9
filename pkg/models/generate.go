package models

// The front end's defaults (src/defaults.gen.ts) are generated from the
// defaults LoadSettings applies, so the editors' placeholders cannot drift
// from what the backend does; a test in ./gendefaults fails while the
// committed file differs from what this would write.
//go:generate go run ./gendefaults -o ../../src/defaults.gen.ts
