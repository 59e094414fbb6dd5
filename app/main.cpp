#include "cli.h"

int main(int argc, char **argv)
{
    return mailcaff::app::run(argc, argv);
}
