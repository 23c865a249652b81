/* Replaces ICU's 34 MB packaged locale data in the portable binary. OuroMamba formats
   numbers and reads JSON only in the POSIX locale, which does not need ICU data; ICU calls
   that would need it fail with an error instead of loading data. */
const unsigned char ouro_icu_stub[64] __attribute__((aligned(16))) = {0};
