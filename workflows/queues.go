package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// Queues names berth's Temporal task queues under a prefix.
type Queues struct {
	Prefix string
}

// Workflows is the queue every job workflow runs on.
func (q Queues) Workflows() string { return q.Prefix + "-workflows" }

// Control is the queue of database-only activities.
func (q Queues) Control() string { return q.Prefix + "-control" }

// Provisioner is the queue of the workers of an organization that have
// exactly this set of provisioner types and this tag set.
func (q Queues) Provisioner(orgID uuid.UUID, provisioners []string, tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(tags[k])
		b.WriteByte(0)
	}
	provs := append([]string(nil), provisioners...)
	sort.Strings(provs)
	b.WriteString(strings.Join(provs, ","))
	sum := sha256.Sum256([]byte(b.String()))
	return q.Prefix + "-prov-" + orgID.String() + "-" + hex.EncodeToString(sum[:])[:12]
}
