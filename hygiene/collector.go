package hygiene

import "encoding/json"

// findingOverhead is what one finding adds to the status JSON beyond its compact encoding: the
// statusmanager stores Status[Details] indented, and a finding sits four levels deep.
const findingOverhead = 96

// collector keeps at most max findings (and, when budget > 0, at most budget bytes of their JSON),
// preferring failures to warnings when it has to drop some, and counts what it drops.
type collector struct {
	max, budget int
	used        int
	kept        []Finding
	sizes       []int
	warnIdx     []int // indexes in kept of warnings, so a failure can take one's place
	omitted     int
	// failures and warnings count every finding added, kept or not.
	failures, warnings int
}

func newCollector(max, budget int) *collector {
	return &collector{max: max, budget: budget}
}

func (c *collector) size(f Finding) int {
	if c.budget <= 0 {
		return 0
	}
	b, err := json.Marshal(f)
	if err != nil {
		return c.budget + 1
	}
	return len(b) + findingOverhead
}

func (c *collector) add(f Finding) {
	if f.Level == LevelFailure {
		c.failures++
	} else {
		c.warnings++
	}
	if len(c.kept) < c.max {
		if s := c.size(f); c.budget <= 0 || c.used+s <= c.budget {
			if f.Level != LevelFailure {
				c.warnIdx = append(c.warnIdx, len(c.kept))
			}
			c.kept = append(c.kept, f)
			c.sizes = append(c.sizes, s)
			c.used += s
			return
		}
	}
	c.omitted++
	if f.Level != LevelFailure || len(c.warnIdx) == 0 {
		return
	}
	// A failure takes the place of the most recent warning, if it fits there.
	i := c.warnIdx[len(c.warnIdx)-1]
	s := c.size(f)
	if c.budget > 0 && c.used-c.sizes[i]+s > c.budget {
		return
	}
	c.warnIdx = c.warnIdx[:len(c.warnIdx)-1]
	c.used += s - c.sizes[i]
	c.kept[i], c.sizes[i] = f, s
}

func (c *collector) findings() []Finding {
	return c.kept
}
