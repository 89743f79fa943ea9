package stack

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommentsCiteRepositoryDocs keeps comments pointing at documents that
// ship with the repository: a design document is cited as docs/DESIGN.md
// and by a section it has, and no comment cites a tracker issue by number
// (a reader of the repository cannot open it; the reason or the measured
// figure belongs in the comment instead).
func TestCommentsCiteRepositoryDocs(t *testing.T) {
	root := repoRoot(t)
	design, err := os.ReadFile(filepath.Join(root, filepath.FromSlash("docs/DESIGN.md")))
	require.NoError(t, err)
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,3} (.+)$`).FindAllStringSubmatch(string(design), -1) {
		sections[strings.Trim(m[1], "`")] = true
	}
	var (
		issueRE   = regexp.MustCompile(`\bissues? #?[0-9]+\b`)
		designRE  = regexp.MustCompile(`(\S*)DESIGN\.md`)
		sectionRE = regexp.MustCompile(`docs/DESIGN\.md,? \(?"([^"]+)"`)
		skipDirs  = map[string]bool{".git": true, "node_modules": true, ".tools": true, "dist": true, "coverage": true}
		exts      = map[string]bool{".go": true, ".ts": true, ".tsx": true, ".sh": true, ".yaml": true, ".yml": true}
	)
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !exts[filepath.Ext(path)] && filepath.Base(path) != "run" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			where := rel + ":" + strconv.Itoa(i+1)
			if m := issueRE.FindString(line); m != "" {
				t.Errorf("%s cites a tracker issue (%q): say the reason or the figure instead", where, m)
			}
			for _, m := range designRE.FindAllStringSubmatch(line, -1) {
				if !strings.HasSuffix(m[1], "docs/") {
					t.Errorf("%s cites %q: the design document of the repository is docs/DESIGN.md", where, m[0])
				}
			}
			for _, m := range sectionRE.FindAllStringSubmatch(line, -1) {
				if !sections[m[1]] {
					t.Errorf("%s cites docs/DESIGN.md section %q, which it does not have", where, m[1])
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, checked, 100, "the walk found the sources")
}
