from cosim_cpp.kernel import main

main()
