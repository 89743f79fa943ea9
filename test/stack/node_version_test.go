package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNodeVersionAgrees: the front end is built and tested on one Node, the
// one scripts/frontend.sh installs into .tools/ (NODE_VERSION). .nvmrc, the
// image's frontend stage and package.json's engines must name the same
// version, or a developer, CI and the compose build test different things.
func TestNodeVersionAgrees(t *testing.T) {
	root := repoRoot(t)
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(root, rel))
		require.NoError(t, err)
		return string(b)
	}
	m := regexp.MustCompile(`(?m)^NODE_VERSION=(\d+)\.(\d+)\.(\d+)$`).FindStringSubmatch(read("scripts/frontend.sh"))
	require.NotNil(t, m, "scripts/frontend.sh pins NODE_VERSION=x.y.z")
	pinned, major := strings.Join(m[1:], "."), m[1]

	assert.Equal(t, pinned, strings.TrimSpace(read(".nvmrc")), ".nvmrc")

	df := parseDockerfile(read(grafanaDockerfile))
	assert.Equal(t, "node:"+pinned+"-bookworm-slim", df.Args["NODE_IMAGE"], grafanaDockerfile+" NODE_IMAGE")

	var pkg struct {
		Engines struct {
			Node string `json:"node"`
		} `json:"engines"`
	}
	require.NoError(t, json.Unmarshal([]byte(read(packageJSONPath)), &pkg))
	assert.Equal(t, ">="+major, pkg.Engines.Node, "package.json engines.node: the major frontend.sh checks for")
	assert.Contains(t, read("scripts/frontend.sh"), `if [ "$major" -lt `+major+` ]`, "frontend.sh refuses an older Node")
}
