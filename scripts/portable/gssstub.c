/* libzmq.a references GSSAPI symbols, but Debian ships no static krb5. The GSSAPI
   mechanism is never used by OuroMamba, so these stubs always fail. Linked only into the
   portable binary (in a dynamic build they would shadow libgssapi's). */
#include <stdint.h>
typedef uint32_t OM_uint32;
#define STUB_FAIL (0x000d0000u) /* GSS_S_FAILURE */
struct gss_OID_desc_struct { OM_uint32 length; void *elements; };
static struct gss_OID_desc_struct stub_oid = {0, 0};
void *GSS_C_NT_HOSTBASED_SERVICE = &stub_oid;
void *GSS_C_NT_USER_NAME = &stub_oid;
#define S(name) OM_uint32 name(OM_uint32 *minor, ...) { if (minor) *minor = 0; return STUB_FAIL; }
S(gss_accept_sec_context) S(gss_acquire_cred) S(gss_delete_sec_context) S(gss_display_name)
S(gss_import_name) S(gss_init_sec_context) S(gss_release_buffer) S(gss_release_cred)
S(gss_release_name) S(gss_unwrap) S(gss_wrap)
