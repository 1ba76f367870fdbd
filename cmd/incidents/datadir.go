package main

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// secureDataDir makes dir private to this user whatever it was before: the directory 0700,
// every file in it 0600 (the database and its WAL and shared-memory files, the outbox, the
// secrets), each change logged. It also sets the process umask to 077, so the files SQLite
// and the outbox create later are private from their first byte rather than tightened after.
// A secret that was readable by others is reported: it may have been read, so rotate it.
func secureDataDir(dir string, log *slog.Logger) error {
	setPrivateUmask()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // never follow a link out of the data directory
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		have := info.Mode().Perm()
		if have == want {
			return nil
		}
		if err := os.Chmod(path, want); err != nil {
			return fmt.Errorf("make %s private: %w", path, err)
		}
		log.Warn("tightened data permissions", "path", path, "was", have.String(), "now", want.String())
		if d.Type().IsRegular() && have&0o077 != 0 && isSecret(d.Name()) {
			log.Warn("a secret was readable by others and may have been read: delete it and restart to have a new one made", "path", path)
		}
		return nil
	})
}

func isSecret(name string) bool { return name == "admin-token" || name == "cursor-key" }
