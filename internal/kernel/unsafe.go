package kernel

import "unsafe"

func unsafePointer(p *[40]byte) unsafe.Pointer { return unsafe.Pointer(p) }
