/* convert.h - `elmo convert`: any model elmo_load accepts -> one safetensors file. */
#ifndef ELMO_CLI_CONVERT_H
#define ELMO_CLI_CONVERT_H

int cli_convert(int argc, char **argv);

#endif
