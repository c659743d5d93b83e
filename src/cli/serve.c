/* scimitar serve: placeholder until its module lands. */
#include "cli/commands.h"

#include <stdio.h>

int cli_serve(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "scimitar %s: not built yet\n", argv[0]);
    return 1;
}
