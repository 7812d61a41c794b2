package main

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"fmt"
	"io"
)

// universalAlign is the alignment of each architecture's slice in a
// universal Mach-O file, as a power of two: 2^14, the page size of arm64
// macOS, which is also a multiple of x86-64's 4 KiB pages. Apple's lipo
// aligns arm64 slices the same way.
const universalAlign = 14

// writeUniversal writes a universal ("fat") Mach-O executable holding the
// thin Mach-O executables thin, in their order: what Apple's lipo
// -create makes. macOS runs the slice of the machine's CPU. Each slice is
// copied byte for byte, so the ad-hoc code signature that Go's linker puts
// on darwin/arm64 binaries stays valid.
//
// The format (mach-o/fat.h) is big-endian: a header (magic, count), one
// fat_arch record per slice (CPU type, subtype, offset, size, alignment),
// then the slices, each at an offset aligned to 2^align.
func writeUniversal(w io.Writer, thin ...[]byte) error {
	if len(thin) < 2 {
		return fmt.Errorf("a universal binary needs at least two architectures, got %d", len(thin))
	}
	type fatArch struct {
		CPU, SubCPU         uint32
		Offset, Size, Align uint32
	}
	const headerSize = 8
	const archSize = 20
	archs := make([]fatArch, len(thin))
	offset := uint64(headerSize + archSize*len(thin))
	seen := map[macho.Cpu]bool{}
	for i, s := range thin {
		f, err := macho.NewFile(bytes.NewReader(s))
		if err != nil {
			return fmt.Errorf("slice %d is not a Mach-O file: %w", i, err)
		}
		if f.Type != macho.TypeExec {
			return fmt.Errorf("slice %d is a Mach-O file of type %d, not an executable", i, f.Type)
		}
		if seen[f.Cpu] {
			return fmt.Errorf("two slices for CPU %s", f.Cpu)
		}
		seen[f.Cpu] = true
		offset = alignUp(offset, 1<<universalAlign)
		if offset+uint64(len(s)) > 1<<32-1 {
			return fmt.Errorf("universal binary over 4 GiB")
		}
		archs[i] = fatArch{
			CPU:    uint32(f.Cpu),
			SubCPU: f.SubCpu,
			Offset: uint32(offset),
			Size:   uint32(len(s)),
			Align:  universalAlign,
		}
		offset += uint64(len(s))
	}
	var head bytes.Buffer
	if err := binary.Write(&head, binary.BigEndian, [2]uint32{macho.MagicFat, uint32(len(thin))}); err != nil {
		return err
	}
	if err := binary.Write(&head, binary.BigEndian, archs); err != nil {
		return err
	}
	written := uint64(head.Len())
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	for i, s := range thin {
		pad := uint64(archs[i].Offset) - written
		if _, err := w.Write(make([]byte, pad)); err != nil {
			return err
		}
		if _, err := w.Write(s); err != nil {
			return err
		}
		written += pad + uint64(len(s))
	}
	return nil
}

func alignUp(n, align uint64) uint64 { return (n + align - 1) &^ (align - 1) }
