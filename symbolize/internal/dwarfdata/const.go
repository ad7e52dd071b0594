package dwarfdata

// A Tag is the kind of a debugging information entry (DWARF 5, 7.5.3).
type Tag uint32

// The tags of the entries that hold or name code.
const (
	TagLexicalBlock      Tag = 0x0b
	TagCompileUnit       Tag = 0x11
	TagInlinedSubroutine Tag = 0x1d
	TagModule            Tag = 0x1e
	TagCatchBlock        Tag = 0x25
	TagSubprogram        Tag = 0x2e
	TagTryBlock          Tag = 0x32
	TagNamespace         Tag = 0x39
	TagPartialUnit       Tag = 0x3c
)

// Attributes read (DWARF 5, 7.5.4).
const (
	atSibling          = 0x01
	atName             = 0x03
	atStmtList         = 0x10
	atLowPC            = 0x11
	atHighPC           = 0x12
	atCompDir          = 0x1b
	atProducer         = 0x25
	atAbstractOrigin   = 0x31
	atSpecification    = 0x47
	atRanges           = 0x55
	atCallFile         = 0x58
	atCallLine         = 0x59
	atLinkageName      = 0x6e
	atStrOffsetsBase   = 0x72
	atAddrBase         = 0x73
	atRnglistsBase     = 0x74
	atMIPSLinkageName  = 0x2007
	atGNUDiscriminator = 0x2136
)

// Attribute forms (DWARF 5, 7.5.6), and the GNU extensions found in the
// wild.
const (
	formAddr          = 0x01
	formBlock2        = 0x03
	formBlock4        = 0x04
	formData2         = 0x05
	formData4         = 0x06
	formData8         = 0x07
	formString        = 0x08
	formBlock         = 0x09
	formBlock1        = 0x0a
	formData1         = 0x0b
	formFlag          = 0x0c
	formSdata         = 0x0d
	formStrp          = 0x0e
	formUdata         = 0x0f
	formRefAddr       = 0x10
	formRef1          = 0x11
	formRef2          = 0x12
	formRef4          = 0x13
	formRef8          = 0x14
	formRefUdata      = 0x15
	formIndirect      = 0x16
	formSecOffset     = 0x17
	formExprloc       = 0x18
	formFlagPresent   = 0x19
	formStrx          = 0x1a
	formAddrx         = 0x1b
	formRefSup4       = 0x1c
	formStrpSup       = 0x1d
	formData16        = 0x1e
	formLineStrp      = 0x1f
	formRefSig8       = 0x20
	formImplicitConst = 0x21
	formLoclistx      = 0x22
	formRnglistx      = 0x23
	formRefSup8       = 0x24
	formStrx1         = 0x25
	formStrx2         = 0x26
	formStrx3         = 0x27
	formStrx4         = 0x28
	formAddrx1        = 0x29
	formAddrx2        = 0x2a
	formAddrx3        = 0x2b
	formAddrx4        = 0x2c
	formGNUAddrIndex  = 0x1f01
	formGNUStrIndex   = 0x1f02
	formGNURefAlt     = 0x1f20
	formGNUStrpAlt    = 0x1f21
)
