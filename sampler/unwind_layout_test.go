package sampler

import (
	"reflect"
	"testing"

	"github.com/emberprof/ember/unwind"
	"github.com/emberprof/ember/unwind/loader"
)

// TestUnwindLayout fails when struct unwind_row in bpf/include/unwind.h and
// unwind.Row, or the C counter slots and loader's, drift apart.
func TestUnwindLayout(t *testing.T) {
	c, g := reflect.TypeOf(samplerUnwindRow{}), reflect.TypeOf(unwind.Row{})
	if c.Size() != g.Size() {
		t.Fatalf("struct unwind_row is %d bytes, unwind.Row %d", c.Size(), g.Size())
	}
	var cf []reflect.StructField
	for i := 0; i < c.NumField(); i++ {
		if f := c.Field(i); f.Name != "_" {
			cf = append(cf, f)
		}
	}
	if len(cf) != g.NumField() {
		t.Fatalf("struct unwind_row has %d fields, unwind.Row %d", len(cf), g.NumField())
	}
	for i, f := range cf {
		h := g.Field(i)
		if f.Offset != h.Offset || f.Type.Size() != h.Type.Size() || f.Type.Kind() != h.Type.Kind() {
			t.Errorf("field %d: C %s %v at %d, Go %s %v at %d", i, f.Name, f.Type, f.Offset, h.Name, h.Type, h.Offset)
		}
	}
	slots := map[samplerUnwindSlot]int{
		samplerUnwindSlotUNWIND_WALKS:        loader.SlotWalks,
		samplerUnwindSlotUNWIND_END_STOP:     loader.SlotEndStop,
		samplerUnwindSlotUNWIND_END_FP:       loader.SlotEndFP,
		samplerUnwindSlotUNWIND_ERR_NO_ROW:   loader.SlotErrNoRow,
		samplerUnwindSlotUNWIND_ERR_INVALID:  loader.SlotErrInvalid,
		samplerUnwindSlotUNWIND_ERR_BAD_CFA:  loader.SlotErrBadCFA,
		samplerUnwindSlotUNWIND_ERR_READ:     loader.SlotErrRead,
		samplerUnwindSlotUNWIND_ERR_BAD_RA:   loader.SlotErrBadRA,
		samplerUnwindSlotUNWIND_ERR_DEPTH:    loader.SlotErrDepth,
		samplerUnwindSlotUNWIND_ERR_NO_TABLE: loader.SlotErrNoTable,
		samplerUnwindSlotUNWIND_FP_UNKNOWN:   loader.SlotFPUnknown,
		samplerUnwindSlotUNWIND_FP_PENDING:   loader.SlotFPPending,
		samplerUnwindSlotUNWIND_FP_NO_CFI:    loader.SlotFPNoCFI,
		samplerUnwindSlotUNWIND_FRAMES:       loader.SlotFrames,
		samplerUnwindSlotUNWIND_REQUESTS:     loader.SlotRequests,
		samplerUnwindSlotUNWIND_SLOTS:        loader.NumSlots,
	}
	for c, g := range slots {
		if int(c) != g {
			t.Errorf("slot %v is %d in C, %d in Go", c, c, g)
		}
	}
}
